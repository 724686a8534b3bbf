import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { ensureBuilt } from './build';

const ROOT = path.resolve(__dirname, '../..');
/** The installed bin: what `npx triggers` runs. */
export const CLI_BIN = path.join(ROOT, 'cli/bin/triggers.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Compiles the CLI (and the SDK it is built on) unless cli/dist is newer than their sources. */
export function ensureCliBuilt(): void {
  ensureBuilt('cli', 'cli/dist/main.js', ['cli/src', 'sdk/src']);
}

/**
 * The environment of a CLI run: this process's, without any TRIGGERS_* or NO_COLOR of the
 * machine, plus `env`. Its stdout and stderr are pipes, as in `triggers list | less`.
 */
function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('TRIGGERS_') && name !== 'NO_COLOR'),
  );
  return { ...base, ...env };
}

/**
 * Runs `node cli/bin/triggers.js ...args` to its end; `via` runs another command instead (a
 * wrapper such as `script`, which gives the CLI a terminal), with `env` added to the CLI's.
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
  via?: { command: string; args: string[]; env: Record<string, string> },
): Promise<CliResult> {
  const command = via ? via.command : process.execPath;
  const commandArgs = via ? via.args : [CLI_BIN, ...args];
  return new Promise((resolve) => {
    execFile(
      command,
      commandArgs,
      { cwd: ROOT, env: cliEnv({ ...env, ...via?.env }), timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, signal: (error?.signal as NodeJS.Signals | undefined) ?? null, stdout, stderr });
      },
    );
  });
}

/** A CLI that runs until stopped (tail, listen): its output so far, and its end. */
export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Complete stdout lines so far. */
  lines(): string[];
  exited: Promise<CliResult>;
}

export function startCli(args: string[], env: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: ROOT,
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    lines: () => stdout.split('\n').slice(0, -1),
    exited,
  };
}

/** kill -9 a CLI still running (a test that failed half-way), and wait for it to end. */
export async function killCli(cli: RunningCli): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.exited;
}
