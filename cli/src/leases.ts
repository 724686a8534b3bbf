import {
  type LeasedEvent,
  type LeaseParams,
  RateLimitError,
  ServerError,
  type TriggersClient,
  TriggersConnectionError,
} from '@triggers-api/sdk';
import type { Output } from './output.js';
import { pause } from './stop.js';

/** Seconds a lease of tail or listen lasts before it is extended (or runs out, if the CLI died). */
export const VISIBILITY_SECONDS = 60;
/** How often held leases are extended: well inside VISIBILITY_SECONDS. */
export const EXTEND_EVERY_MS = 20_000;
/** The longest long poll the API allows. */
export const WAIT_SECONDS = 20;
/** Nacks at exit get this long in all, so a dead server cannot keep the CLI from exiting. */
const GIVE_BACK_TIMEOUT_MS = 5_000;

/**
 * Long-polls one lease; undefined once `stop` aborted. A failure that may pass (no answer,
 * 5xx, 429) is told on stderr and tried again after a second; any other API error throws.
 */
export async function leaseOnce(
  client: TriggersClient,
  params: LeaseParams,
  stop: AbortSignal,
  out: Output,
): Promise<LeasedEvent[] | undefined> {
  while (!stop.aborted) {
    try {
      const { events } = await client.inbox.lease(
        { ...params, visibility_timeout: VISIBILITY_SECONDS, wait: WAIT_SECONDS },
        { signal: stop },
      );
      return events;
    } catch (error) {
      if (stop.aborted) return undefined;
      if (
        !(
          error instanceof TriggersConnectionError ||
          error instanceof ServerError ||
          error instanceof RateLimitError
        )
      ) {
        throw error;
      }
      out.note(`${out.paintErr.yellow('warning')} lease failed, trying again: ${(error as Error).message}`);
      await pause(
        error instanceof RateLimitError && error.retryAfter ? error.retryAfter * 1000 : 1_000,
        stop,
      );
    }
  }
  return undefined;
}

/**
 * The events a command leased and has not acked or nacked yet. Their leases are extended
 * every EXTEND_EVERY_MS while held (tail without --ack holds what it printed until it exits);
 * `giveBack` nacks them all with no delay, so they are available again at once.
 */
export class HeldLeases {
  private readonly held = new Map<string, LeasedEvent>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: TriggersClient,
    private readonly out: Output,
  ) {
    this.timer = setInterval(() => void this.extendAll(), EXTEND_EVERY_MS);
    this.timer.unref();
  }

  get size(): number {
    return this.held.size;
  }

  add(event: LeasedEvent): void {
    this.held.set(event.event_id, event);
  }

  /** No longer held (acked or nacked by the command). */
  release(event: LeasedEvent): void {
    this.held.delete(event.event_id);
  }

  private async extendAll(): Promise<void> {
    for (const event of [...this.held.values()]) {
      try {
        await this.client.events.extend(event.event_id, {
          leaseId: event.lease.lease_id,
          visibilityTimeout: VISIBILITY_SECONDS,
        });
      } catch (error) {
        // Past 12 hours, or another lease took over: it is not ours to give back any more.
        this.held.delete(event.event_id);
        this.out.note(
          `${this.out.paintErr.yellow('warning')} lease of ${event.event_id} not extended: ${(error as Error).message}`,
        );
      }
    }
  }

  /** Nacks every held event (delay 0) and stops extending; errors are told, not thrown. */
  async giveBack(): Promise<void> {
    clearInterval(this.timer);
    const events = [...this.held.values()];
    this.held.clear();
    const nacks = Promise.all(
      events.map((event) =>
        this.client.events
          .nack(event.event_id, { leaseId: event.lease.lease_id, delay: 0 })
          .catch((error) => {
            this.out.note(
              `${this.out.paintErr.yellow('warning')} could not give back ${event.event_id}: ${(error as Error).message}`,
            );
          }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      nacks,
      new Promise((resolve) => (timer = setTimeout(resolve, GIVE_BACK_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
  }
}
