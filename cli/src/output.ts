/** A stream the CLI writes to: process.stdout or stderr, or a test's stand-in. */
export interface TextStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Where a command writes, and how: JSON or text, with colours or without. */
export interface Output {
  json: boolean;
  /** One line on stdout. */
  line(text: string): void;
  /** One JSON value on stdout, on one line (for streams) or indented (for one answer). */
  value(value: unknown, options?: { compact?: boolean }): void;
  /** One line on stderr: notes that are not the command's result (the listen banner). */
  note(text: string): void;
  /** Colours for stdout, which do nothing when stdout is not a terminal or NO_COLOR is set. */
  paint: Paint;
  /** Colours for stderr, on the same rule. */
  paintErr: Paint;
}

export interface Paint {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  /** An event status in its colour: pending yellow, acknowledged green, dead red. */
  status(status: string): string;
}

/** https://no-color.org: any non-empty NO_COLOR turns colours off. */
export function colourFor(stream: TextStream, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

export function createPaint(enabled: boolean): Paint {
  const wrap = (open: number, close: number) => (text: string) =>
    enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  const paint = {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
  return {
    ...paint,
    status: (status) =>
      status === 'acknowledged'
        ? paint.green(status)
        : status === 'dead'
          ? paint.red(status)
          : status === 'pending'
            ? paint.yellow(status)
            : status,
  };
}

export function createOutput(options: {
  json: boolean;
  stdout: TextStream;
  stderr: TextStream;
  env: NodeJS.ProcessEnv;
}): Output {
  const { stdout, stderr } = options;
  return {
    json: options.json,
    line: (text) => {
      stdout.write(`${text}\n`);
    },
    value: (value, { compact = false } = {}) => {
      stdout.write(`${compact ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`);
    },
    note: (text) => {
      stderr.write(`${text}\n`);
    },
    paint: createPaint(colourFor(stdout, options.env)),
    paintErr: createPaint(colourFor(stderr, options.env)),
  };
}

/** The length of a string as a terminal shows it: without colour codes. */
function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is the point.
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/**
 * A plain-text table: a header row (bold on a terminal) and one row per item, columns padded
 * to their widest cell, two spaces apart. No rows prints `empty` (e.g. `No events.`) instead.
 */
export function printTable(out: Output, headers: string[], rows: string[][], empty: string): void {
  if (rows.length === 0) {
    out.line(empty);
    return;
  }
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => visibleLength(row[column] ?? ''))),
  );
  const render = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - visibleLength(cell)),
      )
      .join('  ')
      .trimEnd();
  out.line(out.paint.bold(render(headers)));
  for (const row of rows) out.line(render(row));
}

/** A payload on one line, cut to `max` characters for a table or a stream line. */
export function shortJson(value: unknown, max = 60): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
