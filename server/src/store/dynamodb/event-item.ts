import type { EventStatus, NewEvent, Priority, StoredEvent } from '../event-store';
import {
  MalformedItemError,
  type RawItem,
  readBytes,
  readNumber,
  readOneOf,
  readOptional,
  readString,
} from './item-attributes';
import { availableSk, eventPk, inboxSk, toTtl } from './item-keys';
import type { IndexKeys } from './tables';

const STATUSES: readonly EventStatus[] = ['pending', 'acknowledged', 'dead'];
const PRIORITIES: readonly Priority[] = ['low', 'normal', 'high'];

/** An event as stored in the events table (`pk = {tenant}#{event_id}`, see tables.ts). */
export interface EventItem {
  pk: string;
  tenant_id: string;
  event_id: string;
  created_at: number;
  source: string;
  event_type: string;
  priority: Priority;
  /** The whole metadata object as JSON text (a DynamoDB map could not hold every JSON value). */
  metadata: string;
  status: EventStatus;
  acknowledged_at?: number;
  /**
   * Written by the last ack, nack, extend or redeliver, so that a call whose write landed but
   * whose answer was lost (the SDK retried it and its condition failed) knows its own write.
   */
  change_token?: string;
  expires_at: number;
  ttl: number;
  /** Times leased since created or redelivered. */
  delivery_count: number;
  /** The latest lease, kept after it ends (it stays valid until the event is leased again). */
  lease_id?: string;
  leased_until?: number;
  lease_started_at?: number;
  /** From when a pending event may be leased: created, lease run out, nack delay over. */
  available_at: number;
  /** The sparse inbox index's keys: present only while the event is pending. */
  inbox_pk?: string;
  inbox_sk?: string;
  /** The sparse available index's keys (the lease order): present only while pending. */
  available_pk?: string;
  available_sk?: string;
  /** The events index's keys (GET /v1/events): on every event, whatever its status. */
  events_pk: string;
  events_sk: string;
  /** The gzipped payload, when it fits in the item... */
  payload?: Uint8Array;
  /** ...else the number of chunk items holding it (see payload.ts). */
  payload_chunks?: number;
}

/** The REMOVE clause that takes an event out of the sparse inbox and available indexes. */
export const OUT_OF_PENDING_INDEXES = 'inbox_pk, inbox_sk, available_pk, available_sk';

/** Where an event's gzipped payload is kept: in its item, or in `payload_chunks` chunk items. */
export type PayloadPlacement =
  | Required<Pick<EventItem, 'payload'>>
  | Required<Pick<EventItem, 'payload_chunks'>>;

/** One slice of a payload too large for its event's item (`pk = {tenant}#{event_id}#chunk#{i}`). */
export interface ChunkItem {
  pk: string;
  data: Uint8Array;
  ttl: number;
}

/**
 * An entry of one of the indexes: the table key and the index's own keys, enough to resume a
 * query after it (the projected filter attributes are unread).
 */
export interface IndexEntry {
  pk: string;
  indexPk: string;
  sk: string;
}

/** An entry of the available index: what a lease decides on before it writes. */
export interface AvailableEntry {
  pk: string;
  available_sk: string;
  delivery_count: number;
  lease_id?: string;
}

/**
 * The state a change of one event (ack, nack, extend, redeliver) decides on or checks after a
 * failed condition: everything but the payload, read with STATE_ATTRIBUTES as projection.
 */
export type EventStateItem = Pick<
  EventItem,
  | 'created_at'
  | 'status'
  | 'acknowledged_at'
  | 'change_token'
  | 'expires_at'
  | 'delivery_count'
  | 'lease_id'
  | 'leased_until'
  | 'lease_started_at'
  | 'available_at'
>;

export const STATE_ATTRIBUTES: ReadonlyArray<keyof EventStateItem> = [
  'created_at',
  'status',
  'acknowledged_at',
  'change_token',
  'expires_at',
  'delivery_count',
  'lease_id',
  'leased_until',
  'lease_started_at',
  'available_at',
];

/** The item of a new event: pending and available at once, so in every index. */
export function toEventItem(event: NewEvent, payload: PayloadPlacement): EventItem {
  const sk = inboxSk(event.createdAt, event.eventId);
  return {
    pk: eventPk(event.tenantId, event.eventId),
    tenant_id: event.tenantId,
    event_id: event.eventId,
    created_at: event.createdAt,
    source: event.source,
    event_type: event.eventType,
    priority: event.priority,
    metadata: JSON.stringify(event.metadata),
    status: 'pending',
    expires_at: event.expiresAt,
    ttl: toTtl(event.expiresAt),
    delivery_count: 0,
    available_at: event.createdAt,
    inbox_pk: event.tenantId,
    inbox_sk: sk,
    available_pk: event.tenantId,
    available_sk: availableSk(event.createdAt, event.createdAt, event.eventId),
    events_pk: event.tenantId,
    events_sk: sk,
    ...payload,
  };
}

/** The domain's event, given its item and its payload already put back together. */
export function toStoredEvent(item: EventItem, payloadJson: string): StoredEvent {
  return {
    tenantId: item.tenant_id,
    eventId: item.event_id,
    createdAt: item.created_at,
    source: item.source,
    eventType: item.event_type,
    payloadJson,
    priority: item.priority,
    metadata: parseMetadata(item.metadata),
    status: item.status,
    acknowledgedAt: item.acknowledged_at ?? null,
    expiresAt: item.expires_at,
    deliveryCount: item.delivery_count,
    leaseId: item.lease_id ?? null,
    leasedUntil: item.leased_until ?? null,
    availableAt: item.available_at,
    leaseStartedAt: item.lease_started_at ?? null,
  };
}

export function readEventItem(item: RawItem): EventItem {
  return {
    pk: readString(item, 'pk'),
    tenant_id: readString(item, 'tenant_id'),
    event_id: readString(item, 'event_id'),
    source: readString(item, 'source'),
    event_type: readString(item, 'event_type'),
    priority: readOneOf(item, 'priority', PRIORITIES),
    metadata: readString(item, 'metadata'),
    ...readEventState(item),
    ttl: readNumber(item, 'ttl'),
    inbox_pk: readOptional(item, 'inbox_pk', readString),
    inbox_sk: readOptional(item, 'inbox_sk', readString),
    available_pk: readOptional(item, 'available_pk', readString),
    available_sk: readOptional(item, 'available_sk', readString),
    events_pk: readString(item, 'events_pk'),
    events_sk: readString(item, 'events_sk'),
    payload: readOptional(item, 'payload', readBytes),
    payload_chunks: readOptional(item, 'payload_chunks', readNumber),
  };
}

export function readEventState(item: RawItem): EventStateItem {
  return {
    created_at: readNumber(item, 'created_at'),
    status: readOneOf(item, 'status', STATUSES),
    acknowledged_at: readOptional(item, 'acknowledged_at', readNumber),
    change_token: readOptional(item, 'change_token', readString),
    expires_at: readNumber(item, 'expires_at'),
    delivery_count: readNumber(item, 'delivery_count'),
    lease_id: readOptional(item, 'lease_id', readString),
    leased_until: readOptional(item, 'leased_until', readNumber),
    lease_started_at: readOptional(item, 'lease_started_at', readNumber),
    available_at: readNumber(item, 'available_at'),
  };
}

export function readChunkItem(item: RawItem): ChunkItem {
  return { pk: readString(item, 'pk'), data: readBytes(item, 'data'), ttl: readNumber(item, 'ttl') };
}

export function readIndexEntry(item: RawItem, keys: Pick<IndexKeys, 'pk' | 'sk'>): IndexEntry {
  return { pk: readString(item, 'pk'), indexPk: readString(item, keys.pk), sk: readString(item, keys.sk) };
}

export function readAvailableEntry(item: RawItem): AvailableEntry {
  return {
    pk: readString(item, 'pk'),
    available_sk: readString(item, 'available_sk'),
    delivery_count: readNumber(item, 'delivery_count'),
    lease_id: readOptional(item, 'lease_id', readString),
  };
}

function parseMetadata(json: string): Record<string, unknown> {
  const metadata: unknown = JSON.parse(json);
  if (!isObject(metadata)) throw new MalformedItemError('metadata', 'the JSON text of an object');
  return metadata;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
