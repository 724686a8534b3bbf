import type { IdempotencyClaim, IdempotencyRecord, NewEvent } from '../event-store';
import { type RawItem, readNumber, readString } from './item-attributes';
import { idempotencyPk, toTtl } from './item-keys';

/**
 * An idempotency key's record in the events table (`pk = {tenant}#idem#{key}`), written in
 * the same transaction as the event it points at.
 */
export interface IdempotencyItem {
  pk: string;
  request_hash: string;
  event_id: string;
  created_at: number;
  event_expires_at: number;
  /** When the key may be claimed by another request; TTL deletes the item later, lazily. */
  expires_at: number;
  ttl: number;
}

export function toIdempotencyItem(event: NewEvent, claim: IdempotencyClaim): IdempotencyItem {
  return {
    pk: idempotencyPk(event.tenantId, claim.key),
    request_hash: claim.requestHash,
    event_id: event.eventId,
    created_at: event.createdAt,
    event_expires_at: event.expiresAt,
    expires_at: claim.expiresAt,
    ttl: toTtl(claim.expiresAt),
  };
}

/** The domain's record; the key itself is not stored apart from the item's `pk`. */
export function toIdempotencyRecord(item: IdempotencyItem, key: string): IdempotencyRecord {
  return {
    key,
    requestHash: item.request_hash,
    eventId: item.event_id,
    createdAt: item.created_at,
    eventExpiresAt: item.event_expires_at,
  };
}

export function readIdempotencyItem(item: RawItem): IdempotencyItem {
  return {
    pk: readString(item, 'pk'),
    request_hash: readString(item, 'request_hash'),
    event_id: readString(item, 'event_id'),
    created_at: readNumber(item, 'created_at'),
    event_expires_at: readNumber(item, 'event_expires_at'),
    expires_at: readNumber(item, 'expires_at'),
    ttl: readNumber(item, 'ttl'),
  };
}
