/**
 * The keys of the events table's items (the layout is in tables.ts). Every item of a tenant
 * starts with its id, and tenant ids cannot hold `#` (TENANT_ID_PATTERN): no key of one
 * tenant can be forged from another's.
 */

export function eventPk(tenantId: string, eventId: string): string {
  return `${tenantId}#${eventId}`;
}

export function chunkPk(tenantId: string, eventId: string, index: number): string {
  return `${tenantId}#${eventId}#chunk#${index}`;
}

export function idempotencyPk(tenantId: string, key: string): string {
  return `${tenantId}#idem#${key}`;
}

/**
 * The inbox and events indexes' sort key: the order (created_at, then event_id) as one string.
 * ISO 8601 times compare as strings in time order, and `#` sorts below every id character.
 */
export function inboxSk(createdAt: number, eventId: string): string {
  return `${new Date(createdAt).toISOString()}#${eventId}`;
}

/** The available index's sort key: the lease order (available_at, created_at, event_id). */
export function availableSk(availableAt: number, createdAt: number, eventId: string): string {
  return `${new Date(availableAt).toISOString()}#${inboxSk(createdAt, eventId)}`;
}

/**
 * An available-index sort key moved to another available_at. A lease knows the event only by
 * its index entry: the rest of the key (created_at, event_id) is read from the old one, after
 * the first `#` (an ISO time holds none).
 */
export function rescheduledSk(sk: string, availableAt: number): string {
  return `${new Date(availableAt).toISOString()}${sk.slice(sk.indexOf('#'))}`;
}

/**
 * The highest available-index sort key of an event available at `now`: every key of that
 * millisecond continues with `#` and an ISO time, all below `\uffff`.
 */
export function availableUpTo(now: number): string {
  return `${new Date(now).toISOString()}#\uffff`;
}

/** A subscription (webhook-store.ts). */
export function subscriptionPk(tenantId: string, subscriptionId: string): string {
  return `${tenantId}#sub#${subscriptionId}`;
}

/** The tenant's subscription registry: the one item a create reads to find its deliveries. */
export function registryPk(tenantId: string): string {
  return `${tenantId}#subscriptions`;
}

/** The registry's attribute holding one subscription's entry. */
export function registryEntryName(subscriptionId: string): string {
  return `sub#${subscriptionId}`;
}

/** The delivery record of one event to one subscription. */
export function deliveryPk(tenantId: string, subscriptionId: string, eventId: string): string {
  return `${tenantId}#dlv#${subscriptionId}#${eventId}`;
}

/** One line of a subscription's attempts log. */
export function attemptPk(
  tenantId: string,
  subscriptionId: string,
  eventId: string,
  attempt: number,
): string {
  return `${tenantId}#att#${subscriptionId}#${eventId}#${attempt}`;
}

/**
 * The `due` index partitions (see tables.ts): every delivery record of every tenant is due
 * somewhere, so the index is split over DUE_SHARDS partitions by a hash of the record's key,
 * fixed for the record's life. Claims read them all. Raising it is safe (records stay where
 * they are and every shard below the new count is still read); lowering it strands records.
 */
export const DUE_SHARDS = 4;

/**
 * What every `due_pk` starts with. Only delivery records carry `due_pk` (the table's key has
 * the tenant first, so a key prefix cannot tell them apart): the events table's stream is
 * filtered on this prefix to reach the delivery function (infra/src/delivery.ts).
 */
export const DUE_PK_PREFIX = 'due#';

export function dueShardPk(shard: number): string {
  return `${DUE_PK_PREFIX}${shard}`;
}

/** The shard of a delivery record: FNV-1a of its key, so spread evenly and stable. */
export function dueShardOf(pk: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < pk.length; i += 1) {
    hash ^= pk.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return dueShardPk((hash >>> 0) % DUE_SHARDS);
}

/** The `due` index's sort key: when the record is due, then its key (unique, stable). */
export function dueSk(nextAttemptAt: number, pk: string): string {
  return `${new Date(nextAttemptAt).toISOString()}#${pk}`;
}

/** The `subscription` index's partition: one subscription's delivery records and log. */
export function subscriptionIndexPk(tenantId: string, subscriptionId: string): string {
  return `${tenantId}#${subscriptionId}`;
}

/** A delivery record's `subscription` index sort key; `dlv#` sorts after every `att#` key. */
export function deliverySk(eventId: string): string {
  return `dlv#${eventId}`;
}

/** The sort key prefix of the log's entries in the `subscription` index. */
export const ATTEMPT_SK_PREFIX = 'att#';

/**
 * A log entry's `subscription` index sort key: newest first is descending order. The
 * attempt number is zero-padded so that one event's attempts of one millisecond sort too.
 */
export function attemptSk(attemptedAt: number, attemptId: string): string {
  return `${ATTEMPT_SK_PREFIX}${new Date(attemptedAt).toISOString()}#${attemptId}`;
}

/** A log entry's id within its subscription's log (PagePosition.id). */
export function attemptId(eventId: string, attempt: number): string {
  return `${eventId}#${String(attempt).padStart(6, '0')}`;
}

/** DynamoDB's TTL reads epoch seconds; the store's times are epoch milliseconds. */
export function toTtl(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}
