/**
 * The in-memory model of the Triggers API that tests/api/model.test.ts checks the real app
 * against: what the README and the contract promise, written as plainly as possible (maps and
 * sorted arrays, no indexes, no cursors of its own). It knows nothing of the server's code:
 * event ids come from the real answers, everything else follows from the requests and the
 * clock.
 */

export type Tenant = 'A' | 'B';
/** Who sends a request: the full keys of tenants A and B, and a read-only key of tenant A. */
export type Who = 'A' | 'B' | 'A-read';
export type Priority = 'low' | 'normal' | 'high';
export type Scope = 'events:write' | 'events:read' | 'events:ack';

export const TENANT_OF: Record<Who, Tenant> = { A: 'A', B: 'B', 'A-read': 'A' };
export const SCOPES_OF: Record<Who, Scope[]> = {
  A: ['events:write', 'events:read', 'events:ack'],
  B: ['events:write', 'events:read', 'events:ack'],
  'A-read': ['events:read'],
};

const DAY_MS = 24 * 60 * 60 * 1000;
/** The test app's retention (createTestApp: 7 days) and the idempotency keys' 24 h. */
export const RETENTION_MS = 7 * DAY_MS;
export const KEY_TTL_MS = DAY_MS;
/** TRIGGERS_MAX_DELIVERIES of the model test's app: small, so runs reach dead letters. */
export const MAX_DELIVERIES = 2;
/** One lease lives at most 12 hours from when it was taken. */
export const MAX_LEASE_MS = 12 * 60 * 60 * 1000;

export type Status = 'pending' | 'acknowledged' | 'dead';

export interface EventBody {
  source: string;
  event_type: string;
  payload: Record<string, unknown>;
  metadata?: { priority?: Priority; correlation_id?: string; idempotency_key?: string };
}

export interface ModelEvent {
  tenant: Tenant;
  eventId: string;
  createdAt: number;
  source: string;
  eventType: string;
  payload: Record<string, unknown>;
  metadata: Record<string, unknown>;
  status: Status;
  acknowledgedAt: number | null;
  expiresAt: number;
  deliveryCount: number;
  /** The latest lease's id, learned from the real answer (the model cannot guess it). */
  leaseId: string | null;
  leasedUntil: number | null;
  /** From when a pending event may be leased: created, lease run out, or nack delay over. */
  availableAt: number;
  leaseStartedAt: number | null;
}

interface KeyRecord {
  /** The request's identity: see requestIdentity. */
  identity: string;
  eventId: string;
  createdAt: number;
  eventExpiresAt: number;
  expiresAt: number;
}

export type IngestOutcome =
  | { kind: 'create' }
  | { kind: 'replay'; eventId: string; createdAt: number; expiresAt: number }
  | { kind: 'reused'; eventId: string };

export type AckOutcome =
  | { kind: 'acked'; acknowledgedAt: number }
  | { kind: 'not_found' }
  | { kind: 'conflict'; status: Status; acknowledgedAt: number | null }
  | { kind: 'lease_mismatch' };

export type NackOutcome =
  | { kind: 'nacked'; status: 'pending' | 'dead'; deliveryCount: number; visibleAt: number | null }
  | { kind: 'not_found' }
  | { kind: 'conflict'; status: Status; acknowledgedAt: number | null }
  | { kind: 'lease_mismatch' };

export type ExtendOutcome =
  | { kind: 'extended'; leasedUntil: number }
  | { kind: 'not_found' }
  | { kind: 'conflict'; status: Status; acknowledgedAt: number | null }
  | { kind: 'lease_mismatch' }
  | { kind: 'lease_too_long'; maxLeasedUntil: number };

export type RedeliverOutcome =
  | { kind: 'redelivered' }
  | { kind: 'not_found' }
  | { kind: 'conflict'; status: Status; acknowledgedAt: number | null };

/** Filters of a lease, as sent in its body. */
export interface LeaseFilters {
  source?: string;
  event_type?: string;
  priority?: Priority;
}

/** Filters of GET /v1/events, as sent in the query string. */
export interface ListFilters {
  status?: Status;
  source?: string;
  event_type?: string;
}

/** Inbox filters exactly as sent in the query string. */
export interface InboxFilters {
  source?: string;
  event_type?: string;
  priority?: Priority;
  created_after?: string;
  created_before?: string;
}

export interface Position {
  createdAt: number;
  eventId: string;
}

export interface ModelCursor {
  tenant: Tenant;
  filters: InboxFilters;
  /** The last event of the page that issued it: the next page starts strictly after it. */
  position: Position;
  /** The real cursor, opaque to the model. */
  text: string;
  /** Pages read with it so far (a cursor may be reused at any time). */
  uses: number;
}

/** The event as the contract shows it (Event schema). */
export interface WireEvent {
  event_id: string;
  created_at: string;
  source: string;
  event_type: string;
  payload: Record<string, unknown>;
  status: Status;
  metadata: Record<string, unknown>;
  acknowledged_at: string | null;
  expires_at: string;
  delivery_count: number;
  leased_until: string | null;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** JSON with object keys sorted at every level, so equal content gives equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The metadata an event keeps: as sent, the key left out, priority defaulted to normal. */
function metadataWithoutKey(body: EventBody): Record<string, unknown> {
  const { idempotency_key: _key, ...rest } = body.metadata ?? {};
  return { ...rest, priority: body.metadata?.priority ?? 'normal' };
}

/**
 * What makes two requests "the same" for an idempotency key: the event they describe
 * (names trimmed, priority defaulted), wherever the key itself was sent.
 */
export function requestIdentity(body: EventBody): string {
  return canonicalJson({
    source: body.source.trim(),
    event_type: body.event_type.trim(),
    payload: body.payload,
    metadata: metadataWithoutKey(body),
  });
}

export function compareInboxOrder(a: Position, b: Position): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/** The order in which leases take events: by when each became available, then the inbox order. */
function compareLeaseOrder(a: ModelEvent, b: ModelEvent): number {
  return a.availableAt - b.availableAt || compareInboxOrder(a, b);
}

function conflict(event: ModelEvent): { kind: 'conflict'; status: Status; acknowledgedAt: number | null } {
  return { kind: 'conflict', status: event.status, acknowledgedAt: event.acknowledgedAt };
}

export class TriggersModel {
  /** Every event still stored (deleted ones are removed), by event id. */
  readonly events = new Map<string, ModelEvent>();
  /** Every event id the API issued in this run, in order: commands name events by position here. */
  readonly issued: string[] = [];
  /** Every cursor the API issued in this run, in order. */
  readonly cursors: ModelCursor[] = [];
  private readonly keys = new Map<string, KeyRecord>();

  constructor(public now: number) {}

  /** What an ingest with this key and body does now (no key: always a new event). */
  ingestOutcome(tenant: Tenant, key: string | undefined, body: EventBody): IngestOutcome {
    if (key === undefined) return { kind: 'create' };
    const record = this.keys.get(`${tenant}\n${key}`);
    if (!record || record.expiresAt <= this.now) return { kind: 'create' };
    if (record.identity !== requestIdentity(body)) return { kind: 'reused', eventId: record.eventId };
    return {
      kind: 'replay',
      eventId: record.eventId,
      createdAt: record.createdAt,
      expiresAt: record.eventExpiresAt,
    };
  }

  /** Records the event the API created (with the id it chose) and the key that now names it. */
  created(
    tenant: Tenant,
    eventId: string,
    body: EventBody,
    key: string | undefined,
    keyInMetadata: boolean,
  ): ModelEvent {
    const metadata = metadataWithoutKey(body);
    if (key !== undefined && keyInMetadata) metadata.idempotency_key = key;
    const event: ModelEvent = {
      tenant,
      eventId,
      createdAt: this.now,
      source: body.source.trim(),
      eventType: body.event_type.trim(),
      payload: body.payload,
      metadata,
      status: 'pending',
      acknowledgedAt: null,
      expiresAt: this.now + RETENTION_MS,
      deliveryCount: 0,
      leaseId: null,
      leasedUntil: null,
      availableAt: this.now,
      leaseStartedAt: null,
    };
    this.events.set(eventId, event);
    this.issued.push(eventId);
    if (key !== undefined) {
      this.keys.set(`${tenant}\n${key}`, {
        identity: requestIdentity(body),
        eventId,
        createdAt: event.createdAt,
        eventExpiresAt: event.expiresAt,
        expiresAt: this.now + KEY_TTL_MS,
      });
    }
    return event;
  }

  /** The event as the tenant may see it: its own, not deleted, not expired. */
  visible(tenant: Tenant, eventId: string): ModelEvent | undefined {
    const event = this.events.get(eventId.toLowerCase());
    return event && event.tenant === tenant && event.expiresAt > this.now ? event : undefined;
  }

  /** Ack, with or without a lease id: a retry under the lease that acked it is a success. */
  ack(tenant: Tenant, eventId: string, leaseId?: string): AckOutcome {
    const event = this.visible(tenant, eventId);
    if (!event) return { kind: 'not_found' };
    if (event.status === 'acknowledged' && leaseId !== undefined && leaseId === event.leaseId) {
      return { kind: 'acked', acknowledgedAt: event.acknowledgedAt as number };
    }
    if (event.status !== 'pending') return conflict(event);
    if (leaseId !== undefined && leaseId !== event.leaseId) return { kind: 'lease_mismatch' };
    event.status = 'acknowledged';
    event.acknowledgedAt = this.now;
    return { kind: 'acked', acknowledgedAt: this.now };
  }

  /**
   * The events a lease takes now, in order; exhausted events met on the way become dead.
   * The caller records each lease with `leased` once it knows the real lease id.
   */
  lease(tenant: Tenant, filters: LeaseFilters, limit: number): ModelEvent[] {
    const candidates = [...this.events.values()]
      .filter(
        (e) =>
          e.tenant === tenant &&
          this.isAvailable(e) &&
          (filters.source === undefined || e.source === filters.source) &&
          (filters.event_type === undefined || e.eventType === filters.event_type) &&
          (filters.priority === undefined || e.metadata.priority === filters.priority),
      )
      .sort(compareLeaseOrder);
    const taken: ModelEvent[] = [];
    for (const event of candidates) {
      if (taken.length >= limit) break;
      if (event.deliveryCount >= MAX_DELIVERIES) event.status = 'dead';
      else taken.push(event);
    }
    return taken;
  }

  leased(event: ModelEvent, leaseId: string, visibilityTimeoutMs: number): void {
    event.deliveryCount += 1;
    event.leaseId = leaseId;
    event.leasedUntil = this.now + visibilityTimeoutMs;
    event.availableAt = event.leasedUntil;
    event.leaseStartedAt = this.now;
  }

  nack(tenant: Tenant, eventId: string, leaseId: string, delayMs: number): NackOutcome {
    const event = this.visible(tenant, eventId);
    if (!event) return { kind: 'not_found' };
    // A retry of the nack that made it dead answers as that nack did.
    if (event.status === 'dead' && leaseId === event.leaseId && event.leasedUntil === null) {
      return { kind: 'nacked', status: 'dead', deliveryCount: event.deliveryCount, visibleAt: null };
    }
    if (event.status !== 'pending') return conflict(event);
    if (leaseId !== event.leaseId) return { kind: 'lease_mismatch' };
    event.leasedUntil = null;
    event.availableAt = this.now + delayMs;
    if (event.deliveryCount >= MAX_DELIVERIES) event.status = 'dead';
    return {
      kind: 'nacked',
      status: event.status === 'dead' ? 'dead' : 'pending',
      deliveryCount: event.deliveryCount,
      visibleAt: event.status === 'dead' ? null : event.availableAt,
    };
  }

  extend(tenant: Tenant, eventId: string, leaseId: string, visibilityTimeoutMs: number): ExtendOutcome {
    const event = this.visible(tenant, eventId);
    if (!event) return { kind: 'not_found' };
    if (event.status !== 'pending') return conflict(event);
    if (leaseId !== event.leaseId) return { kind: 'lease_mismatch' };
    const until = this.now + visibilityTimeoutMs;
    const max = (event.leaseStartedAt as number) + MAX_LEASE_MS;
    if (until > max) return { kind: 'lease_too_long', maxLeasedUntil: max };
    event.leasedUntil = until;
    event.availableAt = until;
    return { kind: 'extended', leasedUntil: until };
  }

  redeliver(tenant: Tenant, eventId: string): RedeliverOutcome {
    const event = this.visible(tenant, eventId);
    if (!event) return { kind: 'not_found' };
    if (event.status === 'pending') return conflict(event);
    Object.assign(event, {
      status: 'pending',
      acknowledgedAt: null,
      deliveryCount: 0,
      leaseId: null,
      leasedUntil: null,
      leaseStartedAt: null,
      availableAt: this.now,
    });
    return { kind: 'redelivered' };
  }

  /** GET /v1/events, first page: every unexpired event of the tenant, in `order`. */
  list(tenant: Tenant, filters: ListFilters, order: 'asc' | 'desc', limit: number) {
    const matching = [...this.events.values()]
      .filter(
        (e) =>
          e.tenant === tenant &&
          e.expiresAt > this.now &&
          (filters.status === undefined || e.status === filters.status) &&
          (filters.source === undefined || e.source === filters.source) &&
          (filters.event_type === undefined || e.eventType === filters.event_type),
      )
      .sort((a, b) => (order === 'asc' ? compareInboxOrder(a, b) : compareInboxOrder(b, a)));
    return { events: matching.slice(0, limit), hasMore: matching.length > limit };
  }

  private isAvailable(event: ModelEvent): boolean {
    return event.status === 'pending' && event.expiresAt > this.now && event.availableAt <= this.now;
  }

  delete(tenant: Tenant, eventId: string): void {
    const event = this.events.get(eventId.toLowerCase());
    if (event && event.tenant === tenant) this.events.delete(event.eventId);
  }

  /** One inbox page: the tenant's available, matching events after `after`, oldest first. */
  page(
    tenant: Tenant,
    filters: InboxFilters,
    limit: number,
    after?: Position,
  ): { events: ModelEvent[]; hasMore: boolean } {
    const createdAfter = filters.created_after === undefined ? undefined : Date.parse(filters.created_after);
    const createdBefore =
      filters.created_before === undefined ? undefined : Date.parse(filters.created_before);
    const matching = [...this.events.values()]
      .filter(
        (e) =>
          e.tenant === tenant &&
          this.isAvailable(e) &&
          (filters.source === undefined || e.source === filters.source) &&
          (filters.event_type === undefined || e.eventType === filters.event_type) &&
          (filters.priority === undefined || e.metadata.priority === filters.priority) &&
          (createdAfter === undefined || e.createdAt > createdAfter) &&
          (createdBefore === undefined || e.createdAt < createdBefore) &&
          (after === undefined || compareInboxOrder(e, after) > 0),
      )
      .sort(compareInboxOrder);
    return { events: matching.slice(0, limit), hasMore: matching.length > limit };
  }
}

export function toWire(event: ModelEvent): WireEvent {
  return {
    event_id: event.eventId,
    created_at: iso(event.createdAt),
    source: event.source,
    event_type: event.eventType,
    payload: event.payload,
    status: event.status,
    metadata: event.metadata,
    acknowledged_at: event.acknowledgedAt === null ? null : iso(event.acknowledgedAt),
    expires_at: iso(event.expiresAt),
    delivery_count: event.deliveryCount,
    leased_until: event.leasedUntil === null ? null : iso(event.leasedUntil),
  };
}
