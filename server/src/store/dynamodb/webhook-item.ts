import type { NewEvent } from '../event-store';
import type {
  AttemptOutcome,
  ClaimedDelivery,
  DeliveryAttempt,
  DisabledReason,
  StoredSubscription,
  SubscriptionStatus,
} from '../webhook-store';
import {
  MalformedItemError,
  type RawItem,
  readBoolean,
  readNumber,
  readOneOf,
  readOptional,
  readString,
} from './item-attributes';
import {
  attemptId,
  attemptPk,
  attemptSk,
  deliveryPk,
  deliverySk,
  dueShardOf,
  dueSk,
  registryEntryName,
  subscriptionIndexPk,
  subscriptionPk,
  toTtl,
} from './item-keys';

const SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ['active', 'disabled'];
const DISABLED_REASONS: readonly DisabledReason[] = ['gone', 'failing'];
const OUTCOMES: readonly AttemptOutcome[] = ['succeeded', 'retrying', 'failed'];

/** A subscription (`pk = {tenant}#sub#{subscription_id}`). */
export interface SubscriptionItem {
  pk: string;
  tenant_id: string;
  subscription_id: string;
  target_url: string;
  event_types: string[];
  sources: string[];
  description?: string;
  status: SubscriptionStatus;
  disabled_reason?: DisabledReason;
  secret: string;
  created_at: number;
  failing_since?: number;
}

export function toSubscriptionItem(subscription: StoredSubscription): SubscriptionItem {
  return {
    pk: subscriptionPk(subscription.tenantId, subscription.subscriptionId),
    tenant_id: subscription.tenantId,
    subscription_id: subscription.subscriptionId,
    target_url: subscription.targetUrl,
    event_types: subscription.eventTypes,
    sources: subscription.sources,
    description: subscription.description ?? undefined,
    status: subscription.status,
    disabled_reason: subscription.disabledReason ?? undefined,
    secret: subscription.secret,
    created_at: subscription.createdAt,
    failing_since: subscription.failingSince ?? undefined,
  };
}

export function readSubscription(item: RawItem): StoredSubscription {
  return {
    tenantId: readString(item, 'tenant_id'),
    subscriptionId: readString(item, 'subscription_id'),
    targetUrl: readString(item, 'target_url'),
    eventTypes: readStrings(item, 'event_types'),
    sources: readStrings(item, 'sources'),
    description: readOptional(item, 'description', readString) ?? null,
    status: readOneOf(item, 'status', SUBSCRIPTION_STATUSES),
    disabledReason: readOptional(item, 'disabled_reason', readReason) ?? null,
    secret: readString(item, 'secret'),
    createdAt: readNumber(item, 'created_at'),
    failingSince: readOptional(item, 'failing_since', readNumber) ?? null,
  };
}

/**
 * Patterns up to this many bytes (types and sources, as JSON) are copied into the registry, so
 * that a create matches on the registry alone. Larger ones stay in the subscription's item
 * only, which a create then reads too: 50 entries of this size keep the registry far below
 * DynamoDB's 400 KB per item, whatever the patterns (128 characters each, up to 4 bytes a
 * character, 40 of them, would be 20 KB).
 */
export const INLINE_PATTERN_BYTES = 4_096;

/**
 * One subscription's entry in its tenant's registry (`pk = {tenant}#subscriptions`, one
 * attribute `sub#{subscription_id}` per subscription, see RegistryItem).
 */
export interface RegistryEntry {
  subscriptionId: string;
  createdAt: number;
  active: boolean;
  /** Undefined when the patterns are too large to copy (INLINE_PATTERN_BYTES): read the item. */
  patterns?: Pick<StoredSubscription, 'eventTypes' | 'sources'>;
}

/**
 * The registry of a tenant's subscriptions: what a create needs to find the subscriptions its
 * event matches, in one strongly consistent GetItem (a GSI cannot be read consistently, and
 * the table has no sort key to Query a tenant's items by). `subscription_count` counts every
 * subscription, disabled ones too, and bounds them (MAX_SUBSCRIPTIONS_PER_TENANT) by the
 * condition of the write that adds one; `version` grows with every change.
 */
export interface RegistryItem {
  version: number;
  subscriptionCount: number;
  entries: RegistryEntry[];
}

const ENTRY_PREFIX = registryEntryName('');

export function toRegistryEntry(subscription: StoredSubscription): Record<string, unknown> {
  const patterns = { event_types: subscription.eventTypes, sources: subscription.sources };
  const inline = Buffer.byteLength(JSON.stringify(patterns)) <= INLINE_PATTERN_BYTES;
  return {
    created_at: subscription.createdAt,
    active: subscription.status === 'active',
    ...(inline ? patterns : { patterns_in_item: true }),
  };
}

export function readRegistry(item: RawItem | undefined): RegistryItem {
  if (!item) return { version: 0, subscriptionCount: 0, entries: [] };
  const entries: RegistryEntry[] = [];
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(ENTRY_PREFIX)) continue;
    if (typeof value !== 'object' || value === null) throw new MalformedItemError(name, 'a map');
    const entry = value as RawItem;
    const inline = entry.patterns_in_item !== true;
    entries.push({
      subscriptionId: name.slice(ENTRY_PREFIX.length),
      createdAt: readNumber(entry, 'created_at'),
      active: readBoolean(entry, 'active'),
      patterns: inline
        ? { eventTypes: readStrings(entry, 'event_types'), sources: readStrings(entry, 'sources') }
        : undefined,
    });
  }
  return {
    version: readNumber(item, 'version'),
    subscriptionCount: readNumber(item, 'subscription_count'),
    entries,
  };
}

/** A delivery record: in the `due` index while it exists, and in its subscription's partition. */
export interface DeliveryItem {
  pk: string;
  tenant_id: string;
  subscription_id: string;
  event_id: string;
  attempts: number;
  next_attempt_at: number;
  /** The current claim; none before the first claim and after a retrying attempt. */
  claim_id?: string;
  due_pk: string;
  due_sk: string;
  subscription_pk: string;
  subscription_sk: string;
  /** An event's deliveries go with it: past its expiry TTL removes what is left. */
  ttl: number;
}

/** The delivery record of a new event to one subscription: due at once, no attempts yet. */
export function toDeliveryItem(event: NewEvent, subscriptionId: string): DeliveryItem {
  const pk = deliveryPk(event.tenantId, subscriptionId, event.eventId);
  return {
    pk,
    tenant_id: event.tenantId,
    subscription_id: subscriptionId,
    event_id: event.eventId,
    attempts: 0,
    next_attempt_at: event.createdAt,
    due_pk: dueShardOf(pk),
    due_sk: dueSk(event.createdAt, pk),
    subscription_pk: subscriptionIndexPk(event.tenantId, subscriptionId),
    subscription_sk: deliverySk(event.eventId),
    ttl: toTtl(event.expiresAt),
  };
}

/** A claimed record, as the claim's UpdateItem returns it. */
export function readClaimedDelivery(item: RawItem): ClaimedDelivery {
  const nextAttemptAt = readNumber(item, 'next_attempt_at');
  return {
    tenantId: readString(item, 'tenant_id'),
    subscriptionId: readString(item, 'subscription_id'),
    eventId: readString(item, 'event_id'),
    attempts: readNumber(item, 'attempts'),
    nextAttemptAt,
    claimId: readString(item, 'claim_id'),
    claimedUntil: nextAttemptAt,
  };
}

/** An entry of the `due` index: what a claim decides on before it writes. */
export interface DueEntry {
  pk: string;
  due_pk: string;
  due_sk: string;
  subscription_id: string;
  next_attempt_at: number;
  claim_id?: string;
}

export function readDueEntry(item: RawItem): DueEntry {
  return {
    pk: readString(item, 'pk'),
    due_pk: readString(item, 'due_pk'),
    due_sk: readString(item, 'due_sk'),
    subscription_id: readString(item, 'subscription_id'),
    next_attempt_at: readNumber(item, 'next_attempt_at'),
    claim_id: readOptional(item, 'claim_id', readString),
  };
}

/** One line of the attempts log, kept until the event it is about expires. */
export interface AttemptItem {
  pk: string;
  tenant_id: string;
  subscription_id: string;
  event_id: string;
  attempt: number;
  attempted_at: number;
  status_code?: number;
  duration_ms: number;
  error?: string;
  outcome: AttemptOutcome;
  /** The attempt's `nextAttemptAt` (named apart from the delivery record's own). */
  retry_at?: number;
  expires_at: number;
  ttl: number;
  subscription_pk: string;
  subscription_sk: string;
}

export function toAttemptItem(
  tenantId: string,
  subscriptionId: string,
  attempt: DeliveryAttempt,
  expiresAt: number,
): AttemptItem {
  return {
    pk: attemptPk(tenantId, subscriptionId, attempt.eventId, attempt.attempt),
    tenant_id: tenantId,
    subscription_id: subscriptionId,
    event_id: attempt.eventId,
    attempt: attempt.attempt,
    attempted_at: attempt.attemptedAt,
    status_code: attempt.statusCode ?? undefined,
    duration_ms: attempt.durationMs,
    error: attempt.error ?? undefined,
    outcome: attempt.outcome,
    retry_at: attempt.nextAttemptAt ?? undefined,
    expires_at: expiresAt,
    ttl: toTtl(expiresAt),
    subscription_pk: subscriptionIndexPk(tenantId, subscriptionId),
    subscription_sk: attemptSk(attempt.attemptedAt, attemptId(attempt.eventId, attempt.attempt)),
  };
}

/** A log line as the `subscription` index projects it. */
export function readAttempt(item: RawItem): DeliveryAttempt {
  return {
    eventId: readString(item, 'event_id'),
    attempt: readNumber(item, 'attempt'),
    attemptedAt: readNumber(item, 'attempted_at'),
    statusCode: readOptional(item, 'status_code', readNumber) ?? null,
    durationMs: readNumber(item, 'duration_ms'),
    error: readOptional(item, 'error', readString) ?? null,
    outcome: readOneOf(item, 'outcome', OUTCOMES),
    nextAttemptAt: readOptional(item, 'retry_at', readNumber) ?? null,
  };
}

function readReason(item: RawItem, attribute: string): DisabledReason {
  return readOneOf(item, attribute, DISABLED_REASONS);
}

function readStrings(item: RawItem, attribute: string): string[] {
  const value = item[attribute];
  if (!Array.isArray(value)) throw new MalformedItemError(attribute, 'a list of strings');
  return value.map((element: unknown) => {
    if (typeof element !== 'string') throw new MalformedItemError(attribute, 'a list of strings');
    return element;
  });
}
