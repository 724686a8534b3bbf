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

/** DynamoDB's TTL reads epoch seconds; the store's times are epoch milliseconds. */
export function toTtl(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}
