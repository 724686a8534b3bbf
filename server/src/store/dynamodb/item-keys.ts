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

/** The inbox index's sort key: the inbox order (created_at, then event_id) as one string. */
export function inboxSk(createdAt: number, eventId: string): string {
  return `${new Date(createdAt).toISOString()}#${eventId}`;
}

/** DynamoDB's TTL reads epoch seconds; the store's times are epoch milliseconds. */
export function toTtl(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}
