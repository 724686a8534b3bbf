import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Clock, systemClock } from '../../clock';
import { UnavailableError } from '../../errors';

/**
 * SQLite's writes on a thread of their own. A group commit's statements and its COMMIT — which
 * waits for the fsync, ~0.5 ms of this machine's disk per batch — took about a third of the
 * event loop's time under a full ingest load (BENCHMARKS.md): every request in flight waited
 * for them. Here a worker thread holds the only connection that writes, and runs the same
 * stores' write methods; the server's connection opens the file read-only and runs the reads
 * itself, in the loop, as before. Nothing is promised differently: a write still resolves only
 * once its COMMIT has returned, fsynced (`synchronous=FULL` on the writer's connection), and
 * since SQLite makes a WAL commit visible only after that fsync, a read never sees a write
 * that could still be lost.
 */
export type WriterTarget = 'events' | 'webhooks' | 'keys';

export interface WriterData {
  file: string;
  /** `caller`: the stores' clock reads the time of the call (tests drive a fake clock). */
  clock: 'system' | 'caller';
  backgroundCheckpoints: boolean;
}

export interface WriterRequest {
  id: number;
  target: WriterTarget;
  method: string;
  args: unknown[];
  now: number;
}

/** An error as it crosses the thread: a class does not survive structured cloning. */
export interface WireError {
  unavailable: boolean;
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type WriterReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError };

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface WriterThreadOptions {
  file: string;
  clock: Clock;
  /** Whether checkpoints run on their own thread (checkpointer.ts) and not in a COMMIT. */
  backgroundCheckpoints: boolean;
  /** The thread ended without being closed: every write fails from then on. */
  onFailure?: (error: Error) => void;
}

export class WriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /**
   * The calls of this turn of the event loop, sent as one message: each message wakes the other
   * thread, and one per call cost the loop about as much as the writes it moved (BENCHMARKS.md).
   */
  private outbox: WriterRequest[] = [];
  private readonly send = () => {
    const calls = this.outbox;
    if (calls.length === 0 || this.failure) return;
    this.outbox = [];
    try {
      this.worker.postMessage(calls);
    } catch (error) {
      // Arguments that cannot be cloned: a bug of the caller's, answered as one.
      for (const { id } of calls) this.settle({ id, ok: false, error: toWire(error) });
    }
  };
  private failure: Error | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: WriterThreadOptions) {
    const data: WriterData = {
      file: options.file,
      clock: options.clock === systemClock ? 'system' : 'caller',
      backgroundCheckpoints: options.backgroundCheckpoints,
    };
    // From server/dist, the compiled worker; from the TypeScript sources (jest), through tsx.
    const typescript = __filename.endsWith('.ts');
    this.worker = new Worker(path.join(__dirname, `writer-worker${typescript ? '.ts' : '.js'}`), {
      workerData: data,
      execArgv: typescript ? ['--require', require.resolve('tsx/cjs')] : [],
    });
    // A server with nothing to write may exit: the thread holds no request of its own.
    this.worker.unref();
    this.worker.on('message', (replies: WriterReply[] | 'closed') => {
      if (replies === 'closed') return;
      for (const reply of replies) this.settle(reply);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) =>
      this.fail(new Error(`the SQLite writer thread exited with code ${code}`)),
    );
  }

  /** Runs `target.method(...args)` on the writer thread's stores. */
  call(target: WriterTarget, method: string, args: unknown[]): Promise<unknown> {
    if (this.failure || this.closed) return Promise.reject(new UnavailableError({ cause: this.failure }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.outbox.push({ id, target, method, args, now: this.options.clock() });
      if (this.outbox.length === 1) setImmediate(this.send);
    });
  }

  /** Lets the writes in flight finish, then closes the writer's connection and ends the thread. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      if (this.failure) return resolve();
      this.send();
      this.worker.on('message', (reply) => {
        if (reply === 'closed') void this.worker.terminate();
      });
      this.worker.postMessage('close');
    });
    return this.closed;
  }

  private settle(reply: WriterReply): void {
    const call = this.pending.get(reply.id);
    if (!call) return;
    this.pending.delete(reply.id);
    if (reply.ok) call.resolve(reply.value);
    else call.reject(fromWire(reply.error));
  }

  private fail(error: Error): void {
    for (const call of this.pending.values()) call.reject(new UnavailableError({ cause: error }));
    this.pending.clear();
    if (this.failure || this.closed) return;
    this.failure = error;
    this.options.onFailure?.(error);
  }
}

/**
 * `reads`, with the methods named in `writes` run on the writer thread instead: an object whose
 * prototype is `reads`, so every other method runs on the server's (read-only) connection.
 */
export function withWritesOn<T extends object>(
  writer: WriterThread,
  target: WriterTarget,
  reads: T,
  writes: ReadonlyArray<keyof T & string>,
): T {
  const routed = Object.create(reads) as Record<string, unknown>;
  for (const method of writes) routed[method] = (...args: unknown[]) => writer.call(target, method, args);
  return routed as T;
}

/** An error as it crosses the thread: its kind (unavailable or not), name, message, code, stack. */
export function toWire(error: unknown): WireError {
  const unavailable = error instanceof UnavailableError;
  const cause = (unavailable ? error.cause : error) as Partial<
    Record<'name' | 'message' | 'code' | 'stack', string>
  >;
  return {
    unavailable,
    name: cause?.name ?? 'Error',
    message: cause?.message ?? String(cause),
    code: cause?.code,
    stack: cause?.stack,
  };
}

function fromWire(wire: WireError): Error {
  const error = Object.assign(new Error(wire.message), {
    name: wire.name,
    code: wire.code,
    stack: wire.stack,
  });
  return wire.unavailable ? new UnavailableError({ cause: error }) : error;
}
