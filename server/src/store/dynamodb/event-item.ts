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
import { eventPk, inboxSk, toTtl } from './item-keys';

const STATUSES: readonly EventStatus[] = ['pending', 'acknowledged'];
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
  /** Written by the ack that acknowledged the event, so that a retried ack knows its own write. */
  ack_token?: string;
  expires_at: number;
  ttl: number;
  /** The sparse inbox index's keys: present only while the event is pending. */
  inbox_pk?: string;
  inbox_sk?: string;
  /** The gzipped payload, when it fits in the item... */
  payload?: Uint8Array;
  /** ...else the number of chunk items holding it (see payload.ts). */
  payload_chunks?: number;
}

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

/** An entry of the sparse inbox index: the keys (the projected filter attributes are unread). */
export type InboxEntry = Required<Pick<EventItem, 'pk' | 'inbox_pk' | 'inbox_sk'>>;

/** What an ack reads back when its condition failed, to tell why. */
export type AckStateItem = Pick<EventItem, 'status' | 'acknowledged_at' | 'expires_at' | 'ack_token'>;

/** The item of a new event: pending, so in the inbox index. */
export function toEventItem(event: NewEvent, payload: PayloadPlacement): EventItem {
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
    inbox_pk: event.tenantId,
    inbox_sk: inboxSk(event.createdAt, event.eventId),
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
  };
}

export function readEventItem(item: RawItem): EventItem {
  return {
    pk: readString(item, 'pk'),
    tenant_id: readString(item, 'tenant_id'),
    event_id: readString(item, 'event_id'),
    created_at: readNumber(item, 'created_at'),
    source: readString(item, 'source'),
    event_type: readString(item, 'event_type'),
    priority: readOneOf(item, 'priority', PRIORITIES),
    metadata: readString(item, 'metadata'),
    ...readAckState(item),
    ttl: readNumber(item, 'ttl'),
    inbox_pk: readOptional(item, 'inbox_pk', readString),
    inbox_sk: readOptional(item, 'inbox_sk', readString),
    payload: readOptional(item, 'payload', readBytes),
    payload_chunks: readOptional(item, 'payload_chunks', readNumber),
  };
}

export function readAckState(item: RawItem): AckStateItem {
  return {
    status: readOneOf(item, 'status', STATUSES),
    acknowledged_at: readOptional(item, 'acknowledged_at', readNumber),
    ack_token: readOptional(item, 'ack_token', readString),
    expires_at: readNumber(item, 'expires_at'),
  };
}

export function readChunkItem(item: RawItem): ChunkItem {
  return { pk: readString(item, 'pk'), data: readBytes(item, 'data'), ttl: readNumber(item, 'ttl') };
}

export function readInboxEntry(item: RawItem): InboxEntry {
  return {
    pk: readString(item, 'pk'),
    inbox_pk: readString(item, 'inbox_pk'),
    inbox_sk: readString(item, 'inbox_sk'),
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
