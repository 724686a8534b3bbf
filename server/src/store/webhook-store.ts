/**
 * The storage port of push delivery (DESIGN §11): subscriptions, the durable delivery records
 * the deliverer works from, and the log of attempts. Each adapter implements it next to its
 * EventStore, in the same database, because EventStore.create writes one delivery record per
 * matching active subscription in the event's own atomic write: a due delivery is as durable
 * as its event. Held to the conformance suite in tests/store/webhook-conformance.ts.
 */

export type SubscriptionStatus = 'active' | 'disabled';
/** `gone`: the target answered 410; `failing`: every attempt failed for FAILING_DISABLE_MS. */
export type DisabledReason = 'gone' | 'failing';

/** A tenant has at most this many subscriptions (so a create writes a bounded number of records). */
export const MAX_SUBSCRIPTIONS_PER_TENANT = 50;
/** A subscription whose attempts have all failed for this long is disabled (`failing`). */
export const FAILING_DISABLE_MS = 5 * 24 * 60 * 60 * 1000;

export interface StoredSubscription {
  tenantId: string;
  /** `sub_` + 32 hex digits (a UUID v7 without dashes, so ids sort by creation). */
  subscriptionId: string;
  targetUrl: string;
  /** Exact types or prefixes ending in `.*`; empty = every type. */
  eventTypes: string[];
  /** Exact sources; empty = every source. */
  sources: string[];
  description: string | null;
  status: SubscriptionStatus;
  disabledReason: DisabledReason | null;
  /** `whsec_` + base64 of 32 random bytes. */
  secret: string;
  createdAt: number;
  /** When the current run of failed attempts began; null when the latest attempt succeeded. */
  failingSince: number | null;
}

/** The durable record of one event still to be delivered to one subscription. */
export interface DeliveryRecord {
  tenantId: string;
  subscriptionId: string;
  eventId: string;
  /** Attempts recorded so far (finished ones; an attempt cut by a crash is made again). */
  attempts: number;
  /** When it is due; while claimed, when the claim runs out (then it is due again). */
  nextAttemptAt: number;
}

/** A delivery claimed by one deliverer: hidden from other claims until `claimedUntil`. */
export interface ClaimedDelivery extends DeliveryRecord {
  claimId: string;
  claimedUntil: number;
}

export type AttemptOutcome = 'succeeded' | 'retrying' | 'failed';

/** One line of a subscription's delivery log. */
export interface DeliveryAttempt {
  eventId: string;
  /** 1 for the first attempt of this event to this subscription. */
  attempt: number;
  attemptedAt: number;
  /** The target's status; null when it did not answer. */
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  outcome: AttemptOutcome;
  /** Set iff outcome is `retrying`. */
  nextAttemptAt: number | null;
}

/** What the deliverer records when an attempt ends. */
export interface AttemptResult {
  attempt: DeliveryAttempt;
  /** Disables the subscription (and drops its pending deliveries) in the same write. */
  disable?: DisabledReason;
  /** The attempts log entry expires with the event (the log is kept as long as events are). */
  expiresAt: number;
}

export type FinishOutcome =
  /** Recorded; `disabled` says the subscription was disabled by it (410, or 5 days failing). */
  | { kind: 'recorded'; disabled: DisabledReason | null }
  /** The claim was lost (it ran out and another deliverer took it, or the subscription is gone). */
  | { kind: 'claim_lost' };

/** A point in newest-first order: a page starts strictly after it. */
export interface PagePosition {
  at: number;
  id: string;
}

export interface SubscriptionPage {
  subscriptions: StoredSubscription[];
  hasMore: boolean;
}

export interface AttemptPage {
  /** Each with its position, for the next page's cursor. */
  attempts: Array<DeliveryAttempt & { position: PagePosition }>;
  hasMore: boolean;
}

export type CreateSubscriptionOutcome = { kind: 'created' } | { kind: 'limit_reached'; limit: number };

export interface ClaimQuery {
  limit: number;
  /** How long a claim hides the delivery: longer than an attempt can take. */
  claimMs: number;
  /** Subscriptions already at their concurrency bound: their deliveries are not claimed. */
  skipSubscriptions?: ReadonlySet<string>;
}

export interface WebhookStore {
  /** Durable before it resolves; refused past MAX_SUBSCRIPTIONS_PER_TENANT. */
  createSubscription(subscription: StoredSubscription): Promise<CreateSubscriptionOutcome>;
  getSubscription(tenantId: string, subscriptionId: string): Promise<StoredSubscription | undefined>;
  /** Newest first (createdAt, then subscriptionId, descending). */
  listSubscriptions(tenantId: string, limit: number, after?: PagePosition): Promise<SubscriptionPage>;
  /** Deletes the subscription, its delivery records and its log; deleting twice is fine. */
  deleteSubscription(tenantId: string, subscriptionId: string): Promise<void>;
  /**
   * Claims up to `limit` due deliveries (nextAttemptAt <= now), any tenant, earliest due
   * first: each gets a new claim id and nextAttemptAt = now + claimMs, so a claim whose
   * deliverer died comes back by itself. Concurrent claims never get the same delivery.
   */
  claimDue(query: ClaimQuery): Promise<ClaimedDelivery[]>;
  /**
   * Claims one delivery by its keys, as claimDue would, when it is due now: never claimed, due
   * again after a retrying attempt, or its claim ran out (a claim whose deliverer died is no
   * claim). Undefined when it is not: claimed by another deliverer, retrying later, or gone
   * (delivered, dropped, never written). For the first attempt of a delivery record, started
   * by its own write (the events table's stream on AWS), racing the sweeps of claimDue.
   */
  claim(
    tenantId: string,
    subscriptionId: string,
    eventId: string,
    claimMs: number,
  ): Promise<ClaimedDelivery | undefined>;
  /**
   * Ends the claimed attempt in one write: appends it to the log; `retrying` keeps the record
   * due at `attempt.nextAttemptAt`, `succeeded` and `failed` delete it; tracks the
   * subscription's failing run (disabling it when `failingSince` is FAILING_DISABLE_MS old) and
   * applies `disable`. Only under the delivery's current claim id.
   */
  finishAttempt(claim: ClaimedDelivery, result: AttemptResult): Promise<FinishOutcome>;
  /** Drops a claimed delivery without an attempt (its event or subscription is gone). */
  dropDelivery(claim: ClaimedDelivery): Promise<void>;
  /** The subscription's log, newest first. */
  listAttempts(
    tenantId: string,
    subscriptionId: string,
    limit: number,
    after?: PagePosition,
  ): Promise<AttemptPage>;
  /** The earliest nextAttemptAt of any delivery record, for the deliverer's next wake-up. */
  nextDueAt(): Promise<number | undefined>;
  /** Finishes pending writes. */
  close(): Promise<void>;
}

/**
 * The result as recorded when it disables the subscription: a failure that would have been
 * retried is the delivery's last (`failed`, no next attempt), since nothing more is sent.
 */
export function endedByDisabling(result: AttemptResult, disabled: DisabledReason | null): AttemptResult {
  if (!disabled || result.attempt.outcome !== 'retrying') return result;
  return { ...result, attempt: { ...result.attempt, outcome: 'failed', nextAttemptAt: null } };
}

/** Does the subscription want this event? Prefix patterns end in `.*`. */
export function subscriptionMatches(
  subscription: Pick<StoredSubscription, 'eventTypes' | 'sources'>,
  event: { source: string; eventType: string },
): boolean {
  if (subscription.sources.length > 0 && !subscription.sources.includes(event.source)) return false;
  if (subscription.eventTypes.length === 0) return true;
  return subscription.eventTypes.some((pattern) =>
    pattern.endsWith('.*') ? event.eventType.startsWith(pattern.slice(0, -1)) : pattern === event.eventType,
  );
}
