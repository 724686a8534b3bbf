import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Clock } from '../clock';
import { toWireEvent } from '../events/wire';
import type { EventStore } from '../store/event-store';
import type {
  AttemptOutcome,
  ClaimedDelivery,
  DeliveryAttempt,
  DisabledReason,
  WebhookStore,
} from '../store/webhook-store';
import type { WebhookPoster } from './post';
import { signWebhook } from './signature';

/** Retry delays vary by ±20 %, so that failures of one moment do not all come back together. */
const JITTER = 0.2;
/** A log line of an event that can no longer be delivered is kept this long. */
const ORPHAN_LOG_MS = 24 * 60 * 60 * 1000;

/** What one attempt needs, wherever it runs: the in-process deliverer or a Lambda handler. */
export interface AttemptDeps {
  webhooks: WebhookStore;
  events: EventStore;
  poster: WebhookPoster;
  clock: Clock;
  logger: Logger;
  /** Seconds before each retry (TRIGGERS_WEBHOOK_RETRY_SCHEDULE). */
  retryScheduleSeconds: readonly number[];
  /** Sent as `user-agent`. */
  userAgent: string;
  /** [0, 1): jitter. */
  random?: () => number;
}

/**
 * How an attempt ended: its recorded outcome; `dropped` when its subscription is gone or
 * disabled (nothing sent); `cut` when the sender stopped mid-attempt (nothing recorded: the
 * claim runs out and the delivery is made again); `claim_lost` when another claim took it.
 */
export type AttemptEnd = AttemptOutcome | 'dropped' | 'cut' | 'claim_lost';

/**
 * One attempt of a claimed delivery (DESIGN §11): the event as GET shows it, signed as
 * Standard Webhooks say, POSTed once; then the attempt is recorded — a 2xx succeeded, a 410
 * disables the subscription, anything else is retried on the schedule (±20 %) until it runs
 * out. Errors of the store propagate: the claim runs out and the delivery comes back.
 */
export async function attemptDelivery(
  claim: ClaimedDelivery,
  deps: AttemptDeps,
  stopping: () => boolean = () => false,
): Promise<AttemptEnd> {
  const { webhooks, events, clock, poster } = deps;
  const attemptNumber = claim.attempts + 1;
  // The event first, the subscription last: the fewer reads between the subscription's check
  // and the POST, the nearer "no delivery starts after DELETE answers" holds on a networked store.
  const event = await events.get(claim.tenantId, claim.eventId);
  const subscription = await webhooks.getSubscription(claim.tenantId, claim.subscriptionId);
  if (subscription?.status !== 'active') {
    await webhooks.dropDelivery(claim);
    return 'dropped';
  }
  if (!event) {
    const now = clock();
    return record(claim, deps, {
      attempt: {
        eventId: claim.eventId,
        attempt: attemptNumber,
        attemptedAt: now,
        statusCode: null,
        durationMs: 0,
        error: 'The event expired or was deleted before it could be delivered.',
        outcome: 'failed',
        nextAttemptAt: null,
      },
      expiresAt: now + ORPHAN_LOG_MS,
    });
  }
  if (stopping()) return 'cut';
  const body = JSON.stringify(toWireEvent(event));
  const attemptedAt = clock();
  const timestamp = Math.floor(attemptedAt / 1000);
  const started = performance.now();
  const result = await poster.post(
    subscription.targetUrl,
    {
      'content-type': 'application/json',
      'user-agent': deps.userAgent,
      'webhook-id': event.eventId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(subscription.secret, event.eventId, timestamp, body),
    },
    body,
  );
  // Cut by the sender's stop: not an answer from the target.
  if (stopping() && result.statusCode === null) return 'cut';
  const durationMs = Math.round(performance.now() - started);
  const { outcome, nextAttemptAt, disable } = judge(deps, result.statusCode, attemptNumber, clock());
  return record(claim, deps, {
    attempt: {
      eventId: event.eventId,
      attempt: attemptNumber,
      attemptedAt,
      statusCode: result.statusCode,
      durationMs,
      error: result.error,
      outcome,
      nextAttemptAt,
    },
    disable,
    expiresAt: event.expiresAt,
  });
}

/** What an answer means: success, a retry when (jittered), or the end (410 disables). */
function judge(
  deps: AttemptDeps,
  statusCode: number | null,
  attemptNumber: number,
  now: number,
): { outcome: AttemptOutcome; nextAttemptAt: number | null; disable?: DisabledReason } {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) {
    return { outcome: 'succeeded', nextAttemptAt: null };
  }
  if (statusCode === 410) return { outcome: 'failed', nextAttemptAt: null, disable: 'gone' };
  const delaySeconds = deps.retryScheduleSeconds[attemptNumber - 1];
  if (delaySeconds === undefined) return { outcome: 'failed', nextAttemptAt: null };
  const jitter = 1 + ((deps.random ?? Math.random)() * 2 - 1) * JITTER;
  return { outcome: 'retrying', nextAttemptAt: now + Math.round(delaySeconds * 1000 * jitter) };
}

async function record(
  claim: ClaimedDelivery,
  deps: AttemptDeps,
  result: { attempt: DeliveryAttempt; disable?: DisabledReason; expiresAt: number },
): Promise<AttemptEnd> {
  const finished = await deps.webhooks.finishAttempt(claim, result);
  if (finished.kind === 'claim_lost') return 'claim_lost';
  if (finished.disabled) {
    deps.logger.warn(
      { tenant_id: claim.tenantId, subscription_id: claim.subscriptionId, reason: finished.disabled },
      'webhook subscription disabled',
    );
  }
  // Disabling ends the delivery: the store recorded a would-be retry as failed.
  return finished.disabled ? 'failed' : result.attempt.outcome;
}
