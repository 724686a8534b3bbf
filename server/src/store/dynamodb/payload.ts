import { gunzipSync, gzipSync } from 'node:zlib';
import type { NewEvent } from '../event-store';
import type { ChunkItem, EventItem, PayloadPlacement } from './event-item';
import { MalformedItemError } from './item-attributes';
import { chunkPk, toTtl } from './item-keys';

export interface PayloadSizes {
  /** Compressed payload bytes kept in the event item itself; beyond, chunk items. */
  inlineBytes: number;
  /** Size of one chunk item's payload slice. */
  chunkBytes: number;
}

/**
 * Payloads are stored as gzip of their JSON text, never as a DynamoDB map, which cannot hold
 * numbers like 5e-324, integers above 2^53 or empty keys. A payload too large for its event's
 * item (400 KB in all) is split into chunk items, which the caller writes in the same
 * transaction as the event, so that a reader never sees half an event.
 */
export function packPayload(
  event: NewEvent,
  sizes: PayloadSizes,
): { placement: PayloadPlacement; chunks: ChunkItem[] } {
  const compressed = gzipSync(Buffer.from(event.payloadJson, 'utf8'));
  if (compressed.length <= sizes.inlineBytes) return { placement: { payload: compressed }, chunks: [] };
  const chunks: ChunkItem[] = [];
  for (let offset = 0; offset < compressed.length; offset += sizes.chunkBytes) {
    chunks.push({
      pk: chunkPk(event.tenantId, event.eventId, chunks.length),
      data: compressed.subarray(offset, offset + sizes.chunkBytes),
      ttl: toTtl(event.expiresAt),
    });
  }
  return { placement: { payload_chunks: chunks.length }, chunks };
}

/** The keys of the chunk items holding the event's payload; none when it is inline. */
export function chunkPksOf(item: Pick<EventItem, 'tenant_id' | 'event_id' | 'payload_chunks'>): string[] {
  return Array.from({ length: item.payload_chunks ?? 0 }, (_, index) =>
    chunkPk(item.tenant_id, item.event_id, index),
  );
}

/** The payload's JSON text, from the item or from its chunks (read by the caller, by key). */
export function unpackPayload(item: EventItem, chunks: ReadonlyMap<string, Uint8Array>): string {
  const pks = chunkPksOf(item);
  if (pks.length === 0) {
    if (item.payload === undefined) throw new MalformedItemError('payload', 'binary');
    return gunzipSync(item.payload).toString('utf8');
  }
  const parts = pks.map((pk, index) => {
    const part = chunks.get(pk);
    if (!part) throw new Error(`payload chunk ${index} of ${item.pk} is missing`);
    return part;
  });
  return gunzipSync(Buffer.concat(parts)).toString('utf8');
}
