import { toIso } from '../clock';
import type { components } from '../generated/triggers';
import type { LeasedEvent, StoredEvent } from '../store/event-store';
import type { BulkCreateResult, CreatedEvent } from './service';

export type WireEvent = components['schemas']['Event'];
export type WireLeasedEvent = components['schemas']['LeasedEvent'];

/** The stored event as the contract shows it: snake_case fields and ISO times. */
export function toWireEvent(event: StoredEvent): WireEvent {
  return {
    event_id: event.eventId,
    created_at: toIso(event.createdAt),
    source: event.source,
    event_type: event.eventType,
    payload: JSON.parse(event.payloadJson) as WireEvent['payload'],
    status: event.status,
    metadata: event.metadata as WireEvent['metadata'],
    acknowledged_at: event.acknowledgedAt === null ? null : toIso(event.acknowledgedAt),
    expires_at: toIso(event.expiresAt),
    delivery_count: event.deliveryCount,
    leased_until: event.leasedUntil === null ? null : toIso(event.leasedUntil),
  };
}

/** A leased event with the lease it was handed out under (what ack, nack and extend take). */
export function toWireLeasedEvent(event: LeasedEvent): WireLeasedEvent {
  return {
    ...toWireEvent(event),
    lease: { lease_id: event.leaseId, leased_until: toIso(event.leasedUntil) },
  };
}

/** The answer to an ingest (native or CloudEvent): a replay answers the original, pending. */
export function toWireCreated(
  created: CreatedEvent,
  requestId: string,
): components['schemas']['EventCreated'] {
  return {
    event_id: created.eventId,
    created_at: created.createdAt,
    status: 'pending',
    expires_at: created.expiresAt,
    request_id: requestId,
  };
}

/** The answer to a bulk ingest (native items or a CloudEvents batch). */
export function toWireBulkCreated(
  result: BulkCreateResult,
  requestId: string,
): components['schemas']['BulkEventsResult'] {
  return {
    successful: result.successful.map((item) => ({
      index: item.index,
      event_id: item.eventId,
      created_at: item.createdAt,
      status: 'pending',
      replayed: item.replayed,
    })),
    failed: result.failed,
    request_id: requestId,
  };
}
