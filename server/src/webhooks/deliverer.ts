import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { EventStore } from '../store/event-store';
import type { ClaimedDelivery, WebhookStore } from '../store/webhook-store';
import { type AttemptDeps, type AttemptEnd, attemptDelivery } from './attempt';
import { createPoster } from './post';
import { type Resolver, TargetGuard } from './target-guard';

export interface DelivererOptions extends AttemptDeps {
  /** Attempts in flight at once. */
  concurrency: number;
  /** Attempts in flight at once to one subscription. */
  concurrencyPerTarget: number;
  /** How long a claim hides a delivery: longer than an attempt can last. */
  claimMs: number;
  /** How often the store is asked for due deliveries when nothing else wakes the deliverer. */
  pollIntervalMs?: number;
  /** Told how each attempt ended (the server's Prometheus metrics; on AWS, DeliveryMetrics). */
  onAttemptEnded?: (end: AttemptEnd) => void;
}

/**
 * Delivers webhooks from the durable records, inside a long-running server (DESIGN §11,
 * "locally"): claims due deliveries (a claim is a write, so a crash only delays them), POSTs
 * each signed event, records the attempt. Woken by `notify()` when an event is created, and
 * otherwise by a timer at the next due time (retries) or every poll interval (records written
 * by other instances, claims of a crashed process running out).
 */
export class Deliverer {
  private readonly inFlightBySubscription = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private readonly waiting = new Map<string, ClaimedDelivery[]>();
  private inFlight = 0;
  private queued = 0;
  private pumping = false;
  private wokenWhilePumping = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  /** The latest claiming pass: stop() waits for it, so no attempt starts after it returns. */
  private pumped: Promise<void> = Promise.resolve();
  private readonly pollIntervalMs: number;

  constructor(private readonly options: DelivererOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
  }

  start(): void {
    this.stopped = false;
    this.notify();
  }

  /** Something may be due now (an event was created): look at once. */
  readonly notify = (): void => {
    if (this.stopped) return;
    if (this.pumping) {
      this.wokenWhilePumping = true;
      return;
    }
    this.pumped = this.pump();
  };

  /** Stops claiming, cuts attempts in flight (their claims run out; they are made again later). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pumped;
    this.options.poster.close();
    await Promise.allSettled([...this.running]);
  }

  /** Resolves once every attempt started so far has been recorded (for tests and the bench). */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.pumping) {
      await Promise.allSettled([...this.running]);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.wokenWhilePumping = false;
        await this.claimAndStart();
      } while (this.wokenWhilePumping && !this.stopped);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'webhook deliverer could not claim deliveries; retrying');
    } finally {
      this.pumping = false;
    }
    await this.scheduleNext();
  }

  private async claimAndStart(): Promise<void> {
    const { webhooks, concurrency, concurrencyPerTarget, claimMs } = this.options;
    while (!this.stopped && this.inFlight + this.queued < concurrency) {
      const busy = new Set<string>();
      for (const [subscription, count] of this.inFlightBySubscription) {
        if (count >= concurrencyPerTarget) busy.add(subscription);
      }
      const limit = Math.min(concurrency - this.inFlight - this.queued, 100);
      const claimed = await webhooks.claimDue({ limit, claimMs, skipSubscriptions: busy });
      for (const claim of claimed) this.startOrQueue(claim);
      if (claimed.length < limit) return;
    }
  }

  /**
   * One claim may bring more deliveries of a subscription than it has room for: those wait
   * here, claimed, and start as its attempts end — unless their claim is about to run out,
   * then they are left to be claimed again rather than risk a second deliverer sending too.
   */
  private startOrQueue(claim: ClaimedDelivery): void {
    // Claimed as the deliverer stopped: left to run out and be claimed again.
    if (this.stopped) return;
    const key = claim.subscriptionId;
    if ((this.inFlightBySubscription.get(key) ?? 0) < this.options.concurrencyPerTarget) {
      this.launch(claim);
      return;
    }
    const queue = this.waiting.get(key) ?? [];
    queue.push(claim);
    this.waiting.set(key, queue);
    this.queued += 1;
  }

  private startNextWaiting(subscriptionId: string): void {
    const queue = this.waiting.get(subscriptionId);
    while (queue && queue.length > 0) {
      const claim = queue.shift() as ClaimedDelivery;
      this.queued -= 1;
      if (queue.length === 0) this.waiting.delete(subscriptionId);
      if (this.stopped) continue;
      if (claim.claimedUntil - this.options.clock() > this.options.claimMs / 2) {
        this.launch(claim);
        return;
      }
    }
  }

  private launch(claim: ClaimedDelivery): void {
    this.inFlight += 1;
    const key = claim.subscriptionId;
    this.inFlightBySubscription.set(key, (this.inFlightBySubscription.get(key) ?? 0) + 1);
    const attempt = attemptDelivery(claim, this.options, () => this.stopped)
      .then((end) => this.options.onAttemptEnded?.(end))
      .catch((error: unknown) => {
        // The claim runs out and the delivery is tried again: nothing is lost.
        this.options.logger.warn(
          { err: error, subscription_id: key },
          'webhook attempt could not be recorded',
        );
      })
      .finally(() => {
        this.inFlight -= 1;
        const left = (this.inFlightBySubscription.get(key) ?? 1) - 1;
        if (left === 0) this.inFlightBySubscription.delete(key);
        else this.inFlightBySubscription.set(key, left);
        this.running.delete(attempt);
        this.startNextWaiting(key);
        this.notify();
      });
    this.running.add(attempt);
  }

  /** Wakes at the next due delivery, or after the poll interval, whichever is sooner. */
  private async scheduleNext(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.timer);
    let delay = this.pollIntervalMs;
    if (this.inFlight + this.queued < this.options.concurrency) {
      // Due already yet not claimed means its target is at its bound: an attempt ending wakes
      // the deliverer then, so wait for that (or the poll) rather than spin.
      const due = await this.options.webhooks.nextDueAt().catch(() => undefined);
      const wait = due === undefined ? delay : due - this.options.clock();
      if (wait > 0) delay = Math.min(delay, wait);
    }
    if (this.stopped) return;
    this.timer = setTimeout(this.notify, delay);
    this.timer.unref();
  }
}

/**
 * The deliverer of a long-running server (local.ts), on its store, started: claims last twice
 * the attempt timeout and a second, so a claim outlives its attempt but a crashed process's
 * claims come back soon.
 */
export function startDeliverer(options: {
  config: Pick<Config, 'authMode' | 'webhooks'>;
  webhooks: WebhookStore;
  events: EventStore;
  clock: Clock;
  logger: Logger;
  version: string;
  resolver?: Resolver;
  onAttemptEnded?: (end: AttemptEnd) => void;
}): Deliverer {
  const { config } = options;
  const guard = new TargetGuard(config.authMode, options.resolver);
  const deliverer = new Deliverer({
    webhooks: options.webhooks,
    events: options.events,
    clock: options.clock,
    logger: options.logger,
    poster: createPoster(guard, {
      timeoutMs: config.webhooks.timeoutMs,
      socketsPerHost: config.webhooks.concurrency,
    }),
    retryScheduleSeconds: config.webhooks.retryScheduleSeconds,
    concurrency: config.webhooks.concurrency,
    concurrencyPerTarget: config.webhooks.concurrencyPerTarget,
    claimMs: config.webhooks.timeoutMs * 2 + 1_000,
    userAgent: `TriggersAPI-Webhooks/${options.version}`,
    onAttemptEnded: options.onAttemptEnded,
  });
  deliverer.start();
  return deliverer;
}
