import type { LeasedEvent, LeaseParams, TriggersClient } from './client.js';
import { ConflictError, NotFoundError, RateLimitError, TriggersApiError } from './errors.js';

/** What a handler gets besides the event. */
export interface ConsumeContext {
  /**
   * Aborted when the consumer stops (its `signal` aborted, or a lease error it cannot recover
   * from): end the work early, or throw to have the event given back at once.
   */
  signal: AbortSignal;
}

/**
 * Handles one leased event. Resolving acknowledges it (with its lease id); throwing (or
 * rejecting) gives it back with a `nack` after a delay that grows with `delivery_count`.
 *
 * @example
 * const handler: ConsumeHandler = async (event, { signal }) => {
 *   await fetch('https://hooks.example.com/orders', { method: 'POST', body: JSON.stringify(event.payload), signal });
 * };
 */
export type ConsumeHandler = (event: LeasedEvent, context: ConsumeContext) => unknown;

/**
 * Which step of the loop failed: taking a lease, the handler, or answering for an event.
 *
 * @example
 * const onError = (error: unknown, { operation, event }: ConsumeErrorContext) => {
 *   if (operation !== 'handler') console.warn(operation, event?.event_id, error);
 * };
 */
export type ConsumeOperation = 'lease' | 'handler' | 'ack' | 'nack' | 'extend';

export interface ConsumeErrorContext {
  operation: ConsumeOperation;
  /** The event concerned (every operation but `lease`). */
  event?: LeasedEvent;
}

/**
 * How `consume` runs; only `client` is required.
 *
 * @example
 * const options: ConsumeOptions = { client: triggers, signal: stop.signal, concurrency: 20, filter: { event_type: 'order.paid' } };
 */
export interface ConsumeOptions {
  /** The client to lease, ack, nack and extend with. */
  client: TriggersClient;
  /**
   * Stops the consumer: no new lease is taken (a waiting one is cut short), running handlers
   * get the abort through `context.signal` and are awaited for up to `shutdownTimeoutMs`
   * (their events then acked, or nacked at once), and what is still held after that is
   * nacked. `consume` resolves once all of this is done.
   */
  signal?: AbortSignal;
  /** At most this many handlers at once (default 10); a lease asks only for free slots. */
  concurrency?: number;
  /** Seconds a lease hides an event from other workers, 1–43,200 (default 30). */
  visibilityTimeout?: number;
  /** Seconds a lease may wait for an event (long polling), 1–20 (default 20). */
  wait?: number;
  /** Only events matching these (the filters of `inbox.lease`). */
  filter?: Pick<LeaseParams, 'source' | 'event_type' | 'priority'>;
  /**
   * How often a running handler's lease is extended, in ms (default half the visibility
   * timeout); each extension runs the lease `visibilityTimeout` seconds from then.
   */
  extendIntervalMs?: number;
  /**
   * Seconds before an event whose handler threw is available again (rounded, 0–43,200).
   * Default: 2^(delivery_count − 1), at most 300: 1 s, 2 s, 4 s, … 5 min.
   */
  nackDelay?: (event: LeasedEvent, error: unknown) => number;
  /** How long a stop waits for running handlers before it nacks their events (default 10,000 ms). */
  shutdownTimeoutMs?: number;
  /**
   * Told of every failure the loop goes on after: a lease that failed (retried with backoff),
   * a handler that threw (its event nacked), an ack, nack or extend that failed (the event comes
   * back after its lease runs out). Default: `console.error`.
   */
  onError?: (error: unknown, context: ConsumeErrorContext) => void;
}

/** The longest nack delay the API takes, in seconds (12 hours). */
const MAX_DELAY_SECONDS = 43_200;
/** Backoff after failed leases: 1 s, 2 s, 4 s, … at most 30 s, jittered to [½x, x]. */
const LEASE_BACKOFF_BASE_MS = 1_000;
const LEASE_BACKOFF_CAP_MS = 30_000;

/**
 * The default nack delay of `consume`, in seconds: 2^(delivery_count − 1), at most 300, so
 * 1, 2, 4, … by delivery and at most 5 minutes.
 *
 * @example
 * // Twice the default, and never more than 10 minutes:
 * const nackDelay = (event: LeasedEvent) => Math.min(2 * defaultNackDelay(event), 600);
 */
export function defaultNackDelay(event: LeasedEvent): number {
  return Math.min(2 ** Math.max(0, event.delivery_count - 1), 300);
}

/**
 * Runs `handler` on every event of the inbox, as many workers may do on one inbox without
 * handling an event twice at once, in the manner of sqs-consumer: it long-polls leases (as
 * many events as it has free slots, at most `concurrency` handlers at once), acks an event
 * with its lease id when the handler resolves, nacks it with a growing delay when the handler
 * throws, and extends the lease while the handler runs. A lease that fails (network, 5xx,
 * 429) is retried with backoff and reported to `onError`; one the server refuses for good
 * (400, 401, 403, 404) stops the consumer and rejects. It resolves once `signal` has aborted
 * and what it held is acked or nacked. An event whose ack got lost comes back after its
 * visibility timeout: handlers should tolerate a repeat (at-least-once delivery).
 *
 * @example
 * const triggers = createTriggersClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: 'test-api-key-12345' });
 * const stop = new AbortController();
 * process.once('SIGTERM', () => stop.abort());
 * await consume(
 *   async (event) => {
 *     console.log('handling', event.event_id, event.payload);
 *   },
 *   { client: triggers, signal: stop.signal, concurrency: 5, visibilityTimeout: 60 },
 * );
 */
export async function consume(handler: ConsumeHandler, options: ConsumeOptions): Promise<void> {
  const settings = validate(options);
  await new Consumer(handler, options, settings).run();
}

interface Settings {
  concurrency: number;
  visibilityTimeout: number;
  wait: number;
  extendIntervalMs: number;
  shutdownTimeoutMs: number;
}

function validate(options: ConsumeOptions): Settings {
  const concurrency = options.concurrency ?? 10;
  const visibilityTimeout = options.visibilityTimeout ?? 30;
  const wait = options.wait ?? 20;
  const extendIntervalMs = options.extendIntervalMs ?? (visibilityTimeout * 1000) / 2;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`consume needs a concurrency of 1 or more, got ${concurrency}`);
  }
  if (
    !Number.isInteger(visibilityTimeout) ||
    visibilityTimeout < 1 ||
    visibilityTimeout > MAX_DELAY_SECONDS
  ) {
    throw new RangeError(
      `consume needs a visibilityTimeout from 1 to 43200 seconds, got ${visibilityTimeout}`,
    );
  }
  // wait 0 would lease in a busy loop while the inbox is empty.
  if (!Number.isInteger(wait) || wait < 1 || wait > 20) {
    throw new RangeError(`consume needs a wait from 1 to 20 seconds, got ${wait}`);
  }
  if (!(extendIntervalMs > 0 && extendIntervalMs < visibilityTimeout * 1000)) {
    throw new RangeError(
      `consume needs an extendIntervalMs above 0 and below the visibility timeout, got ${extendIntervalMs}`,
    );
  }
  if (!(shutdownTimeoutMs >= 0)) {
    throw new RangeError(`consume needs a shutdownTimeoutMs of 0 or more, got ${shutdownTimeoutMs}`);
  }
  return { concurrency, visibilityTimeout, wait, extendIntervalMs, shutdownTimeoutMs };
}

/** One event the consumer holds a lease on, from the lease until its ack or nack. */
interface Held {
  event: LeasedEvent;
  /** Settles once the event is acked or nacked (or given up at shutdown). */
  done: Promise<void>;
  /** Set when the shutdown nacked the event while its handler still ran: its result is ignored. */
  released: boolean;
  /** The handler has returned or thrown: the ack or nack is under way. */
  handled: boolean;
  finished: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  extending: Promise<void> | undefined;
  /** The handler's signal: aborted when the consumer stops. */
  stopped: ReturnType<typeof follow>;
}

class Consumer {
  /** Aborted on the caller's signal or on a lease error the consumer cannot recover from. */
  private readonly stop = new AbortController();
  /** What the consumer holds, by lease id. */
  private readonly held = new Map<string, Held>();
  private readonly onError: NonNullable<ConsumeOptions['onError']>;
  private wake: (() => void) | undefined;
  private fatal: { error: unknown } | undefined;

  constructor(
    private readonly handler: ConsumeHandler,
    private readonly options: ConsumeOptions,
    private readonly settings: Settings,
  ) {
    this.onError =
      options.onError ??
      ((error, { operation, event }) =>
        console.error(`Triggers consume: ${operation}${event ? ` of ${event.event_id}` : ''} failed`, error));
  }

  async run(): Promise<void> {
    const signal = this.options.signal;
    const onAbort = () => this.stop.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.leaseLoop();
      await this.drain();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (this.fatal) throw this.fatal.error;
  }

  private async leaseLoop(): Promise<void> {
    const { client, filter } = this.options;
    const { concurrency, visibilityTimeout, wait } = this.settings;
    const stopping = this.stop.signal;
    let failures = 0;
    while (!stopping.aborted) {
      const free = concurrency - this.held.size;
      if (free <= 0) {
        await this.slotFreed();
        continue;
      }
      let events: LeasedEvent[];
      // Each call gets a signal of its own: fetch and Request add abort listeners to the
      // signal they are given, which would pile up on the consumer's long-lived one.
      const call = follow(stopping);
      try {
        const params: LeaseParams = {
          ...filter,
          limit: Math.min(free, 100),
          visibility_timeout: visibilityTimeout,
          wait,
        };
        events = (await client.inbox.lease(params, { signal: call.signal })).events;
        failures = 0;
      } catch (error) {
        if (stopping.aborted) break;
        if (isPermanent(error)) {
          this.fatal = { error };
          this.stop.abort(error);
          break;
        }
        this.report(error, { operation: 'lease' });
        failures += 1;
        await this.pause(leaseBackoff(failures, error));
        continue;
      } finally {
        call.unfollow();
      }
      // Leased as the stop came: hand them back at once rather than start on them.
      if (stopping.aborted) {
        await Promise.all(events.map((event) => this.nack(event, 0)));
        break;
      }
      for (const event of events) this.start(event);
    }
  }

  private start(event: LeasedEvent): void {
    const entry: Held = {
      event,
      done: Promise.resolve(),
      released: false,
      handled: false,
      finished: false,
      timer: undefined,
      extending: undefined,
      stopped: follow(this.stop.signal),
    };
    // By lease: the same event may come back to this consumer while an old handler still runs.
    this.held.set(event.lease.lease_id, entry);
    this.scheduleExtend(entry);
    entry.done = this.handle(entry).finally(() => {
      this.held.delete(event.lease.lease_id);
      this.wake?.();
    });
  }

  private async handle(entry: Held): Promise<void> {
    const { event } = entry;
    let failure: { error: unknown } | undefined;
    try {
      await this.handler(event, { signal: entry.stopped.signal });
    } catch (error) {
      failure = { error };
    }
    entry.handled = true;
    await this.finish(entry);
    if (entry.released) return;
    if (!failure) {
      try {
        await this.options.client.events.ack(event.event_id, { leaseId: event.lease.lease_id });
      } catch (error) {
        this.report(error, { operation: 'ack', event });
      }
      return;
    }
    this.report(failure.error, { operation: 'handler', event });
    // A handler cut short by the stop did not fail: another worker may take the event at once.
    await this.nack(event, this.stop.signal.aborted ? 0 : this.nackDelay(event, failure.error));
  }

  private nackDelay(event: LeasedEvent, error: unknown): number {
    let delay: number;
    try {
      delay = (this.options.nackDelay ?? defaultNackDelay)(event, error);
    } catch (delayError) {
      this.report(delayError, { operation: 'nack', event });
      delay = defaultNackDelay(event);
    }
    return Number.isFinite(delay) ? Math.min(Math.max(Math.round(delay), 0), MAX_DELAY_SECONDS) : 0;
  }

  private async nack(event: LeasedEvent, delay: number): Promise<void> {
    try {
      await this.options.client.events.nack(event.event_id, { leaseId: event.lease.lease_id, delay });
    } catch (error) {
      this.report(error, { operation: 'nack', event });
    }
  }

  /** Extends the lease every `extendIntervalMs` until the handler is done. */
  private scheduleExtend(entry: Held): void {
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.extending = this.extend(entry).then((keepGoing) => {
        entry.extending = undefined;
        if (keepGoing && !entry.finished) this.scheduleExtend(entry);
      });
    }, this.settings.extendIntervalMs);
  }

  /** One extension; false when the lease is gone for good (lost to another lease, too long, expired). */
  private async extend(entry: Held): Promise<boolean> {
    const { event } = entry;
    try {
      await this.options.client.events.extend(event.event_id, {
        leaseId: event.lease.lease_id,
        visibilityTimeout: this.settings.visibilityTimeout,
      });
      return true;
    } catch (error) {
      if (entry.finished) return false;
      this.report(error, { operation: 'extend', event });
      return !(error instanceof ConflictError || error instanceof NotFoundError);
    }
  }

  /** Stops extending, and lets an extension under way land before the ack or nack. */
  private async finish(entry: Held): Promise<void> {
    entry.finished = true;
    entry.stopped.unfollow();
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    await entry.extending;
  }

  /** After the stop: waits for running handlers, then nacks what is still held. */
  private async drain(): Promise<void> {
    if (this.held.size === 0) return;
    const settled = Promise.all([...this.held.values()].map((entry) => entry.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      if (Number.isFinite(this.settings.shutdownTimeoutMs)) {
        timer = setTimeout(() => resolve('timeout'), this.settings.shutdownTimeoutMs);
      }
    });
    const outcome = await Promise.race([settled, timedOut]);
    clearTimeout(timer);
    if (outcome !== 'timeout') return;
    // Events whose handler is done are being acked or nacked already: let that land.
    await Promise.all(
      [...this.held.values()].map(async (entry) => {
        if (entry.handled) return entry.done;
        entry.released = true;
        await this.finish(entry);
        await this.nack(entry.event, 0);
      }),
    );
  }

  /** Resolves when a handler's event is done, or the consumer stops. */
  private slotFreed(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.wake = undefined;
        this.stop.signal.removeEventListener('abort', done);
        resolve();
      };
      this.wake = done;
      this.stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Waits `ms`, or less if the consumer stops. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stop.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  private report(error: unknown, context: ConsumeErrorContext): void {
    try {
      this.onError(error, context);
    } catch {
      // A failing error hook must not stop the loop that called it.
    }
  }
}

/** A signal that aborts when `source` does, until `unfollow()`, which leaves `source` as it was. */
function follow(source: AbortSignal): { signal: AbortSignal; unfollow: () => void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(source.reason);
  if (source.aborted) onAbort();
  else source.addEventListener('abort', onAbort, { once: true });
  return { signal: controller.signal, unfollow: () => source.removeEventListener('abort', onAbort) };
}

/** A refusal that no retry will change: bad options (400), a bad key (401, 403), a wrong base URL (404). */
function isPermanent(error: unknown): boolean {
  return error instanceof TriggersApiError && [400, 401, 403, 404].includes(error.status);
}

/** Exponential, jittered to [½x, x]; at least what a 429's `Retry-After` asks. */
function leaseBackoff(failures: number, error: unknown): number {
  const window = Math.min(LEASE_BACKOFF_BASE_MS * 2 ** (failures - 1), LEASE_BACKOFF_CAP_MS);
  const jittered = window / 2 + (Math.random() * window) / 2;
  const retryAfter =
    error instanceof RateLimitError && error.retryAfter !== undefined ? error.retryAfter * 1000 : 0;
  return Math.max(jittered, Math.min(retryAfter, LEASE_BACKOFF_CAP_MS));
}
