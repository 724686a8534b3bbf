import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';

/** What API Gateway gets back from a proxy integration. */
export interface ProxyResult {
  statusCode: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  body: string;
  isBase64Encoded: boolean;
}

export interface Invocation<Result = ProxyResult> {
  result: Result;
  ms: number;
}

/**
 * The bundle in a fresh Node process, as a Lambda container runs it (tests/lambda/runner.cjs):
 * `requireMs` is the module load, and the first `invoke` includes whatever init is left.
 */
export interface LambdaProcess {
  requireMs: number;
  /** Invokes `handler` (the bundle's export of that name). */
  invoke(event: object): Promise<Invocation>;
  invoke<Result>(event: object, handler: string): Promise<Invocation<Result>>;
  /** Every JSON line the function wrote to stdout so far (logs and EMF metrics). */
  outputLines(): Array<Record<string, unknown>>;
  /** What the process wrote to stderr so far (Node's own warnings land there). */
  errorOutput(): string;
  /**
   * The first JSON line that `matches`, once it has arrived: stdout is a pipe of its own, so a
   * line the function wrote before it returned may still be on its way when `invoke` resolves.
   */
  waitForLine(
    matches: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startLambdaProcess(
  bundle: string,
  env: Record<string, string>,
): Promise<LambdaProcess> {
  const child: ChildProcess = fork(path.join(__dirname, 'runner.cjs'), [], {
    env: {
      PATH: process.env.PATH,
      // Under faketime (`npm run test:future`) the bundle keeps the test's clock.
      ...sameClock(),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // As Lambda sets it for a container made for a request (a cold start); `env` may say
      // provisioned-concurrency instead.
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      ...env,
      LAMBDA_BUNDLE: bundle,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const pending = new Map<
    number,
    { resolve: (value: Invocation<unknown>) => void; reject: (error: Error) => void }
  >();
  let nextId = 0;
  const requireMs = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the bundle exited (${code}) while loading:\n${stderr}`)));
    child.on(
      'message',
      (message: {
        type?: string;
        requireMs?: number;
        id?: number;
        result?: unknown;
        error?: string;
        ms?: number;
      }) => {
        if (message.type === 'loaded') {
          resolve(message.requireMs as number);
          return;
        }
        const waiter = pending.get(message.id as number);
        pending.delete(message.id as number);
        if (message.error) waiter?.reject(new Error(`the handler threw: ${message.error}`));
        else waiter?.resolve({ result: message.result, ms: message.ms as number });
      },
    );
  });
  // Whole lines only: the last one may still be arriving.
  const outputLines = () =>
    stdout
      .slice(0, stdout.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    requireMs,
    invoke(event: object, handler?: string) {
      const id = nextId++;
      return new Promise<Invocation<never>>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: Invocation<unknown>) => void, reject });
        child.send({ id, event, handler });
      });
    },
    outputLines,
    errorOutput: () => stderr,
    waitForLine(matches, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = outputLines().find(matches);
          if (!line) return;
          clearTimeout(timer);
          child.stdout?.off('data', check);
          resolve(line);
        };
        const timer = setTimeout(() => {
          child.stdout?.off('data', check);
          reject(new Error(`no such line within ${timeoutMs} ms; stdout:\n${stdout}`));
        }, timeoutMs);
        child.stdout?.on('data', check);
        check();
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** faketime's variables, when this process runs under it (it preloads itself into children). */
function sameClock(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && (entry[0] === 'LD_PRELOAD' || entry[0].startsWith('FAKETIME')),
    ),
  );
}
