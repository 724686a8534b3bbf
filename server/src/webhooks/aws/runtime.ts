import type { Context } from 'aws-lambda';
import type { Logger } from 'pino';
import type { Clock } from '../../clock';
import type { Config } from '../../config';
import type { EventStore } from '../../store/event-store';
import type { WebhookStore } from '../../store/webhook-store';
import type { AttemptDeps, AttemptEnd } from '../attempt';
import { createPoster } from '../post';
import { TargetGuard } from '../target-guard';

/**
 * Time an attempt may take besides its POST: reading the subscription and the event and
 * recording the attempt, each a DynamoDB call that gives up after about 6.6 s with its retries
 * (store/dynamodb/client.ts), the slowest of them ~10 s in practice.
 */
const STORE_MARGIN_MS = 10_000;

/** Counts of how attempts ended, as CloudWatch metrics (lambda/metrics.ts). */
export interface DeliveryMetrics {
  attemptEnded(end: AttemptEnd): void;
  /** Once per invocation, before Lambda freezes the container. */
  publish(): void;
}

/** What the stream and sweep handlers run on: one per Lambda container. */
export interface DeliveryRuntime extends AttemptDeps {
  metrics: DeliveryMetrics;
  /** Attempts in flight at once in one invocation. */
  concurrency: number;
  /** Attempts in flight at once to one subscription in one invocation. */
  concurrencyPerTarget: number;
  /** How long a claim hides a delivery: longer than an attempt can take. */
  claimMs: number;
  /**
   * An attempt starts only while the invocation has at least this long left (the POST's
   * timeout and the store calls around it), so that Lambda does not cut it off.
   */
  attemptBudgetMs: number;
}

/** The one thing the handlers read of Lambda's context. */
export type DeliveryContext = Pick<Context, 'getRemainingTimeInMillis'>;

export interface DeliveryRuntimeOptions {
  config: Pick<Config, 'authMode' | 'webhooks'>;
  stores: { webhooks: WebhookStore; events: EventStore };
  clock: Clock;
  logger: Logger;
  metrics: DeliveryMetrics;
  /** The API's version, in the `user-agent` of every webhook. */
  version: string;
  /**
   * Where webhooks may go (target-guard.ts). `aws` unless said otherwise: every connection's
   * address must then be public, whatever the subscription said when it was made. Tests that
   * deliver to a receiver on 127.0.0.1 pass `local`.
   */
  guardMode?: 'local' | 'aws';
  /** [0, 1): the retries' jitter; tests fix it. */
  random?: () => number;
}

/**
 * The delivery handlers' runtime from the config: the attempt's dependencies (attempt.ts), a
 * poster whose keep-alive connections outlive an invocation (a warm container reuses them),
 * and the bounds of one invocation. A claim lasts twice the attempt timeout and a second, as
 * in the long-running deliverer: it outlives its attempt, and a crashed invocation's claims
 * come back within seconds.
 */
export function createDeliveryRuntime(options: DeliveryRuntimeOptions): DeliveryRuntime {
  const { webhooks } = options.config;
  const guard = new TargetGuard(options.guardMode ?? 'aws');
  return {
    webhooks: options.stores.webhooks,
    events: options.stores.events,
    clock: options.clock,
    logger: options.logger,
    metrics: options.metrics,
    poster: createPoster(guard, {
      timeoutMs: webhooks.timeoutMs,
      socketsPerHost: webhooks.concurrency,
    }),
    retryScheduleSeconds: webhooks.retryScheduleSeconds,
    userAgent: `TriggersAPI-Webhooks/${options.version}`,
    random: options.random,
    concurrency: webhooks.concurrency,
    concurrencyPerTarget: webhooks.concurrencyPerTarget,
    claimMs: webhooks.timeoutMs * 2 + 1_000,
    attemptBudgetMs: webhooks.timeoutMs + STORE_MARGIN_MS,
  };
}
