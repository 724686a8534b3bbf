import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';

/*
 * The README's examples, and how their printed output is compared with what they print.
 *
 * An example is a ```sh block. The fenced block right after it (only blank lines between),
 * when it is ```json or ```text, is its printed output; a ```sh block without one must print
 * nothing. The actual output is compared with the printed one line by line, after masking on
 * both sides what legitimately varies from run to run:
 *
 *   - event, lease and other UUIDs, written in full or elided (`019ac6a1-…`, `6f1c…`)  -> <id>
 *   - ISO timestamps (`2026-11-27T15:30:00.000Z`)                                       -> <time>
 *   - request ids `req_…`, subscription ids `sub_…`, secrets `whsec_…`, API keys `tk_…`
 *   - durations (`12 ms`, `1.5 s`, `"latency_ms": 12`), and the port of 127.0.0.1 or localhost
 *
 * Then, in the printed output:
 *   - `…` within a line stands for any text on that line (`"message": "…"`);
 *   - a line that is only `…` stands for any number of lines, none included: that is how an
 *     example shows only part of what it prints. Without such a line, every line must match.
 *
 * A ```json block is compared as JSON: each JSON document, printed or actual, is parsed and
 * written again with JSON.stringify(value, null, 2), so the README may print indented JSON for
 * what curl prints compact (member order still counts). Documents follow one another; a line
 * that is not part of a document (`204` from `-w '%{http_code}'` is a document too) is kept as
 * it is. Inside a document elide values as strings (`"…"`); a `…` line stands between whole
 * documents. A ```text block is compared as it is. Trailing blanks and blank lines at the end
 * never count. CONTRIBUTING.md says the same for whoever writes an example.
 */

export type PrintedLang = 'json' | 'text';

export interface Printed {
  lang: PrintedLang;
  text: string;
}

export interface Example {
  /** 1-based README line of the block's first line of code. */
  line: number;
  code: string;
  /** What the README shows the block prints; undefined: the block must print nothing. */
  printed?: Printed;
}

const ELLIPSIS = '…';

/** What varies from run to run, masked the same way in the printed and the actual output. */
const MASKS: Array<[RegExp, string]> = [
  [/\b(127\.0\.0\.1|localhost):\d{1,5}\b/g, '$1:<port>'],
  [/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g, '<time>'],
  [/\breq_(?:[0-9A-Za-z]+…?|…)/g, 'req_<id>'],
  [/\bsub_(?:[0-9A-Za-z]+…?|…)/g, 'sub_<id>'],
  [/\bwhsec_(?:[A-Za-z0-9+/=]+…?|…)/g, 'whsec_<secret>'],
  [/\btk_(?:[A-Za-z0-9_-]+…?|…)/g, 'tk_<key>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  // An elided id: four or more hex digits (one of them a digit) that end in `…`.
  [/\b(?=[0-9a-f-]*\d)[0-9a-f]{4}[0-9a-f-]*…/g, '<id>'],
  [/("[A-Za-z_]*_ms"\s*:\s*)\d+(?:\.\d+)?/g, '$1<duration>'],
  [/\b\d+(?:\.\d+)?\s?(?:ms|s)\b/g, '<duration>'],
];

export function mask(line: string): string {
  return MASKS.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), line);
}

/** The text of each `## ` section of a Markdown file, by title. */
export function sections(markdown: string): Map<string, { text: string; firstLine: number }> {
  const found = new Map<string, { text: string; firstLine: number }>();
  const lines = markdown.split('\n');
  let title: string | undefined;
  let start = 0;
  let inFence = false;
  const close = (end: number) => {
    if (title !== undefined)
      found.set(title, { text: lines.slice(start, end).join('\n'), firstLine: start + 1 });
  };
  lines.forEach((line, index) => {
    if (line.startsWith('```')) inFence = !inFence;
    if (!inFence && line.startsWith('## ')) {
      close(index);
      title = line.slice(3).trim();
      start = index + 1;
    }
  });
  close(lines.length);
  return found;
}

interface Fence {
  lang: string;
  body: string;
  /** 0-based line of the opening fence within the text. */
  open: number;
  /** 0-based line of the closing fence within the text. */
  close: number;
}

function fences(text: string): Fence[] {
  const lines = text.split('\n');
  const found: Fence[] = [];
  let current: { lang: string; open: number } | undefined;
  lines.forEach((line, index) => {
    if (!line.startsWith('```')) return;
    if (current) {
      found.push({ ...current, body: lines.slice(current.open + 1, index).join('\n'), close: index });
      current = undefined;
    } else {
      current = { lang: line.slice(3).trim(), open: index };
    }
  });
  return found;
}

/** The ```sh blocks of a section, in order, each with the output printed right after it. */
export function sectionExamples(markdown: string, title: string): Example[] {
  const section = sections(markdown).get(title);
  if (!section) throw new Error(`the README has no "## ${title}" section`);
  const lines = section.text.split('\n');
  const blocks = fences(section.text);
  return blocks.flatMap((fence, index) => {
    if (fence.lang !== 'sh') return [];
    const next = blocks[index + 1];
    const adjacent =
      next !== undefined && lines.slice(fence.close + 1, next.open).every((line) => line.trim() === '');
    const printed =
      adjacent && (next.lang === 'json' || next.lang === 'text')
        ? { lang: next.lang as PrintedLang, text: next.body }
        : undefined;
    return [{ line: section.firstLine + fence.open + 1, code: fence.body, printed }];
  });
}

/** Titles of the sections that hold at least one ```sh block. */
export function sectionsWithShellExamples(markdown: string): string[] {
  return [...sections(markdown)]
    .filter(([, section]) => fences(section.text).some((fence) => fence.lang === 'sh'))
    .map(([title]) => title);
}

/** Lines without trailing blanks (and carriage returns), and without blank lines at the end. */
function textLines(text: string): string[] {
  const lines = text.split('\n').map((line) => line.trimEnd());
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * JSON documents written again as JSON.stringify(value, null, 2) does; lines that start no
 * document stay as they are, and so does a line that is only `…`.
 */
export function prettyJson(text: string): string[] {
  const lines = textLines(text);
  const out: string[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index] as string;
    if (line.trim() === ELLIPSIS || line.trim() === '') {
      out.push(line.trim());
      index += 1;
      continue;
    }
    let end = index;
    let parsed: { value: unknown } | undefined;
    // Only an object or an array spans lines; anything else is a document of one line or none.
    const last = /^\s*[[{]/.test(line) ? lines.length : index + 1;
    for (; end < last && !parsed; end += 1) {
      try {
        parsed = { value: JSON.parse(lines.slice(index, end + 1).join('\n')) };
      } catch {
        parsed = undefined;
      }
    }
    if (parsed) {
      out.push(...JSON.stringify(parsed.value, null, 2).split('\n'));
      index = end;
    } else {
      out.push(line);
      index += 1;
    }
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A printed line as a pattern: masked, with each `…` standing for any text. */
function linePattern(printedLine: string): RegExp {
  return new RegExp(`^${mask(printedLine).split(ELLIPSIS).map(escapeRegExp).join('.*')}$`);
}

/** Whether the printed lines match the actual ones, a line that is only `…` matching any lines. */
function linesMatch(printed: string[], actual: string[]): boolean {
  const patterns = printed.map((line) => (line.trim() === ELLIPSIS ? undefined : linePattern(line)));
  const masked = actual.map(mask);
  const memo = new Map<string, boolean>();
  const from = (p: number, a: number): boolean => {
    const key = `${p},${a}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (p === patterns.length) result = a === masked.length;
    else {
      const pattern = patterns[p];
      result =
        pattern === undefined
          ? from(p + 1, a) || (a < masked.length && from(p, a + 1))
          : a < masked.length && pattern.test(masked[a] as string) && from(p + 1, a + 1);
    }
    memo.set(key, result);
    return result;
  };
  return from(0, 0);
}

/** The first printed line (1-based) that the actual output does not match, walking in step. */
function firstDifference(printed: string[], actual: string[]): string {
  const masked = actual.map(mask);
  for (let index = 0; index < Math.max(printed.length, actual.length); index += 1) {
    const line = printed[index];
    if (line === undefined)
      return `the README shows ${printed.length} lines; line ${index + 1} printed is extra`;
    if (line.trim() === ELLIPSIS) return `from line ${index + 1} (…) on, no way to match`;
    const got = masked[index];
    if (got === undefined || !linePattern(line).test(got))
      return `line ${index + 1}: the README shows\n  ${mask(line)}\nbut the example printed\n  ${got ?? '(nothing)'}`;
  }
  return 'no line differs';
}

/**
 * Compares what an example printed with what the README shows it prints. Returns undefined
 * when they match, else a message that says where they differ and shows the whole output.
 */
export function compareOutput(printed: Printed | undefined, actualText: string): string | undefined {
  if (printed === undefined) {
    return textLines(actualText).length === 0
      ? undefined
      : `the README shows no output for this example, but it printed:\n${actualText}`;
  }
  const expected = printed.lang === 'json' ? prettyJson(printed.text) : textLines(printed.text);
  const actual = printed.lang === 'json' ? prettyJson(actualText) : textLines(actualText);
  if (linesMatch(expected, actual)) return undefined;
  return [
    `the output differs from the README's ${printed.lang} block (both masked; ${firstDifference(expected, actual)})`,
    '--- the README shows (normalised):',
    ...expected,
    '--- the example printed (normalised):',
    ...actual,
  ].join('\n');
}

export interface RunOptions {
  /** Replacements made in each block's code before it runs (a URL, a port). */
  substitutions?: Array<[string, string]>;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Shell code run after the blocks, whose output is returned apart (`env | grep …`). */
  epilogue?: string;
  timeoutMs?: number;
}

export interface RunResult {
  /** What each block printed on stdout, in order. */
  outputs: string[];
  epilogue: string;
  stderr: string;
}

/**
 * Runs the blocks in order in one `bash -euo pipefail`, so that what one defines (variables,
 * functions, background jobs) the next ones see, and splits stdout at a marker echoed after
 * each block. Rejects, naming the block, when a block fails.
 */
export function runExamples(examples: Example[], options: RunOptions = {}): Promise<RunResult> {
  const marker = `@@readme-block-end-${randomUUID()}@@`;
  const substitute = (code: string) =>
    (options.substitutions ?? []).reduce((text, [from, to]) => text.replaceAll(from, to), code);
  const script = [
    ...examples.map((example) => `${substitute(example.code)}\nprintf '\\n%s\\n' '${marker}'`),
    options.epilogue ?? '',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const parts = stdout.split(`\n${marker}\n`);
      const epilogue = parts.length > examples.length ? parts.splice(examples.length).join('') : '';
      if (code !== 0 || parts.length !== examples.length) {
        const failed = examples[Math.min(parts.length, examples.length) - 1];
        reject(
          new Error(
            `the README example at line ${failed?.line} failed (exit ${code ?? signal}):\n${failed?.code}\n` +
              `--- stdout of that block:\n${parts.at(-1)}\n--- stderr:\n${stderr}`,
          ),
        );
        return;
      }
      resolve({ outputs: parts, epilogue, stderr });
    });
  });
}

/** Every block whose output differs from the README, each with its message; empty when none. */
export function staleExamples(examples: Example[], outputs: string[]): string[] {
  return examples.flatMap((example, index) => {
    const difference = compareOutput(example.printed, outputs[index] ?? '');
    return difference === undefined ? [] : [`README line ${example.line}:\n${example.code}\n${difference}`];
  });
}
