import type { Clock } from './clock';
import { RateLimitedError } from './errors';

export interface LongPollOptions {
  clock: Clock;
  /**
   * How often a waiting request asks the store again. Only polling notices what no signal of
   * this process announces: a lease running out, an event written through another instance.
   */
  pollIntervalMs: number;
  /** Waiting requests one API key may hold at once; beyond, 429. */
  maxWaitingPerKey: number;
}

/** Who waits: the tenant whose events wake it, the key whose bound it counts against. */
export interface Waiting {
  tenantId: string;
  keyId: string;
  /** Seconds to wait at most, measured on the injected clock. */
  seconds: number;
  /** Aborted when the client has gone: its slot is freed at once. */
  cancel?: AbortSignal;
}

interface Waiter {
  /** Set by notify(): something became available since the last attempt looked. */
  woken: boolean;
  /** Ends the current sleep, if the waiter is sleeping. */
  wake?: () => void;
}

/**
 * Long polling (`wait` on lease and on the inbox) with no busy loop: a waiting request is a
 * pending promise and one timer. Ingest, redeliver and nack (with no delay) on this process
 * call notify(tenant), which wakes the tenant's waiters at once; otherwise a waiter asks the
 * store again every `pollIntervalMs`. The deadline is read from the injected clock, so a test
 * ends a wait by moving its clock, and shutdown() ends every wait with an empty answer
 * rather than letting the server cut the connection.
 */
export class LongPoll {
  private readonly waitersByTenant = new Map<string, Set<Waiter>>();
  private readonly waitingByKey = new Map<string, number>();
  private stopped = false;

  constructor(private readonly options: LongPollOptions) {}

  /** Events of this tenant may have become available: wake its waiters. */
  readonly notify = (tenantId: string): void => {
    for (const waiter of this.waitersByTenant.get(tenantId) ?? []) {
      waiter.woken = true;
      waiter.wake?.();
    }
  };

  /** Ends every wait now (each answers as if its time had run out); later requests do not wait. */
  shutdown(): void {
    this.stopped = true;
    for (const waiters of this.waitersByTenant.values()) for (const waiter of waiters) waiter.wake?.();
  }

  /** Requests waiting now, of one key or in all. */
  waiting(keyId?: string): number {
    if (keyId !== undefined) return this.waitingByKey.get(keyId) ?? 0;
    let total = 0;
    for (const count of this.waitingByKey.values()) total += count;
    return total;
  }

  /**
   * `attempt()` now, and while it finds nothing (undefined), again on each wake-up until the
   * wait is over; undefined when it never found anything. The first attempt needs no slot, so
   * a key at its bound still gets what is available now; only an actual wait can be refused.
   */
  async wait<T>(who: Waiting, attempt: () => Promise<T | undefined>): Promise<T | undefined> {
    if (who.seconds <= 0 || this.stopped) return attempt();
    // Listening before the first attempt: an ingest whose notify() comes while that attempt
    // is still reading marks the waiter woken, and it looks again at once instead of sleeping
    // through a poll interval.
    const waiter: Waiter = { woken: false };
    const tenantWaiters = this.waitersByTenant.get(who.tenantId) ?? new Set<Waiter>();
    this.waitersByTenant.set(who.tenantId, tenantWaiters.add(waiter));
    let holdsSlot = false;
    try {
      const first = await attempt();
      if (first !== undefined || this.stopped || who.cancel?.aborted) return first;
      const held = this.waitingByKey.get(who.keyId) ?? 0;
      if (held >= this.options.maxWaitingPerKey) {
        throw new RateLimitedError(1, 'waiting (long-polling) requests for this API key');
      }
      this.waitingByKey.set(who.keyId, held + 1);
      holdsSlot = true;
      const deadline = this.options.clock() + who.seconds * 1000;
      for (;;) {
        if (this.stopped || who.cancel?.aborted) return undefined;
        const remaining = deadline - this.options.clock();
        if (remaining <= 0) return undefined;
        // A notify that came while the last attempt was reading is not lost: look again now.
        if (!waiter.woken)
          await this.sleep(waiter, Math.min(this.options.pollIntervalMs, remaining), who.cancel);
        if (this.stopped || who.cancel?.aborted) return undefined;
        waiter.woken = false;
        const found = await attempt();
        if (found !== undefined) return found;
      }
    } finally {
      tenantWaiters.delete(waiter);
      if (tenantWaiters.size === 0 && this.waitersByTenant.get(who.tenantId) === tenantWaiters) {
        this.waitersByTenant.delete(who.tenantId);
      }
      if (holdsSlot) {
        const left = (this.waitingByKey.get(who.keyId) ?? 1) - 1;
        if (left > 0) this.waitingByKey.set(who.keyId, left);
        else this.waitingByKey.delete(who.keyId);
      }
    }
  }

  /** Resolves after `ms` of real time, or sooner on notify, shutdown or cancel. */
  private sleep(waiter: Waiter, ms: number, cancel: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        cancel?.removeEventListener('abort', done);
        waiter.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiter.wake = done;
      cancel?.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * Aborted once the response's connection closes: a client that gave up waiting frees its
 * slot at once instead of holding it until `wait` runs out. (It also fires after an answer
 * is sent, when there is nothing left to cancel.)
 */
export function untilClosed(res: NodeJS.EventEmitter): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  return controller.signal;
}
