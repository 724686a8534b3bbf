/**
 * The storage port. The service depends only on this; each adapter (sqlite/, dynamodb/)
 * implements it and is held to the shared conformance suite in tests/store/. Times are epoch
 * milliseconds; the wire format (ISO strings, snake_case) belongs to the HTTP layer.
 */

export type EventStatus = 'pending' | 'acknowledged' | 'dead';
export type Priority = 'low' | 'normal' | 'high';

export interface StoredEvent {
  tenantId: string;
  eventId: string;
  createdAt: number;
  source: string;
  eventType: string;
  /** The payload's compact JSON text, exactly as written, so it round-trips byte-identical. */
  payloadJson: string;
  priority: Priority;
  /** The whole metadata object, `priority` included. */
  metadata: Record<string, unknown>;
  status: EventStatus;
  acknowledgedAt: number | null;
  expiresAt: number;
  /** Times leased since it was created or last redelivered. */
  deliveryCount: number;
  /** The latest lease: valid for ack, nack and extend until the event is leased again. */
  leaseId: string | null;
  /** When the latest lease runs (or ran) out; null when never leased, nacked or redelivered. */
  leasedUntil: number | null;
  /**
   * From when a pending event is available (created, lease run out, nack delay over).
   * Leases take available events in (availableAt, createdAt, eventId) order.
   */
  availableAt: number;
  /** When the latest lease was taken; a lease lives at most MAX_LEASE_MS from then. */
  leaseStartedAt: number | null;
}

/** What create() takes: the event's own fields; the store sets status and lease fields. */
export type NewEvent = Omit<
  StoredEvent,
  'status' | 'acknowledgedAt' | 'deliveryCount' | 'leaseId' | 'leasedUntil' | 'availableAt' | 'leaseStartedAt'
>;

/** One lease lives at most 12 hours from when it was taken, extensions included (as in SQS). */
export const MAX_LEASE_MS = 12 * 60 * 60 * 1000;

/** Claims an idempotency key for the event being created, in the same atomic write. */
export interface IdempotencyClaim {
  key: string;
  /** Hash of the canonical request body: a replay must carry the same one. */
  requestHash: string;
  /** When the key may be used for another request (24 h after first use). */
  expiresAt: number;
}

/** What a key remembers of the request that first used it, enough to replay its answer. */
export interface IdempotencyRecord {
  key: string;
  requestHash: string;
  eventId: string;
  createdAt: number;
  eventExpiresAt: number;
}

export interface CreateRequest {
  event: NewEvent;
  idempotency?: IdempotencyClaim;
}

export type CreateOutcome =
  | { kind: 'created'; event: StoredEvent }
  /** The key was used before with the same request hash. */
  | { kind: 'replayed'; record: IdempotencyRecord }
  /** The key was used before with another request hash; nothing was written. */
  | { kind: 'key_reused'; record: IdempotencyRecord };

/** The event exists in this tenant but is not pending (or is dead). */
export interface NotPending {
  kind: 'not_pending';
  status: EventStatus;
  acknowledgedAt: number | null;
}

/** A lease id was given and it is not the event's latest lease. */
export interface LeaseMismatch {
  kind: 'lease_mismatch';
  status: EventStatus;
}

export type AckOutcome =
  /** Acked now, or acked before under the same lease id (a retry): the first ack's time. */
  { kind: 'acked'; acknowledgedAt: number } | { kind: 'not_found' } | NotPending | LeaseMismatch;

export interface LeaseQuery {
  tenantId: string;
  filters: Pick<InboxFilters, 'source' | 'eventType' | 'priority'>;
  limit: number;
  visibilityTimeoutMs: number;
  /**
   * An available event already leased this many times becomes dead instead of leased
   * (its last lease has run out); TRIGGERS_MAX_DELIVERIES.
   */
  maxDeliveries: number;
}

/** A leased event: `leaseId`, `leasedUntil` and `leaseStartedAt` are those of the new lease. */
export type LeasedEvent = StoredEvent & { leaseId: string; leasedUntil: number };

export type NackOutcome =
  /** The lease ended: pending and available at `availableAt`, or dead (deliveries used up). */
  | { kind: 'nacked'; status: 'pending' | 'dead'; deliveryCount: number; availableAt: number }
  | { kind: 'not_found' }
  | NotPending
  | LeaseMismatch;

export type ExtendOutcome =
  | { kind: 'extended'; leasedUntil: number }
  | { kind: 'not_found' }
  | NotPending
  | LeaseMismatch
  /** The new end would pass MAX_LEASE_MS from the lease's start. */
  | { kind: 'lease_too_long'; maxLeasedUntil: number };

export type RedeliverOutcome =
  | { kind: 'redelivered' }
  | { kind: 'not_found' }
  /** Pending already (leased or not): nothing changed. */
  | NotPending;

export interface ListEventsFilters {
  status?: EventStatus;
  source?: string;
  eventType?: string;
  /** Exclusive lower bound on createdAt. */
  createdAfter?: number;
  /** Exclusive upper bound on createdAt. */
  createdBefore?: number;
}

export interface ListEventsQuery {
  tenantId: string;
  filters: ListEventsFilters;
  /** `desc`: newest first (createdAt, then eventId, both descending). */
  order: 'asc' | 'desc';
  limit: number;
  /** A page starts strictly after this position in `order`. */
  after?: InboxPosition;
}

export interface InboxFilters {
  source?: string;
  eventType?: string;
  priority?: Priority;
  /** Exclusive lower bound on createdAt. */
  createdAfter?: number;
  /** Exclusive upper bound on createdAt. */
  createdBefore?: number;
}

/** A point in the inbox order (createdAt, then eventId): a page starts strictly after it. */
export interface InboxPosition {
  createdAt: number;
  eventId: string;
}

export interface ListPendingQuery {
  tenantId: string;
  filters: InboxFilters;
  limit: number;
  after?: InboxPosition;
}

export interface ListPendingResult {
  /** At most `limit` matching events, in the query's order. */
  events: StoredEvent[];
  /** True iff more matching pending events existed after the last one returned. */
  hasMore: boolean;
}

/**
 * Pending events counted per tenant (the Prometheus gauge of the long-running server). Pending
 * means not yet acknowledged nor dead, and unexpired: leased events count (a lease is work in
 * progress, not work done), as do events whose nack delay is not over.
 */
export interface PendingCounts {
  /** The tenants with the most pending events, most first, ties by tenant id; none at 0. */
  top: Array<{ tenantId: string; pending: number }>;
  /** Pending events of every tenant, those of `top` included. */
  total: number;
  /**
   * False when the store stopped counting at its read bound (DynamoDB, see
   * dynamodb/pending-count.ts): the counts are then lower bounds.
   */
  complete: boolean;
}

export interface EventStore {
  /** Short name reported by health: `sqlite` or `dynamodb`. */
  readonly kind: 'sqlite' | 'dynamodb';
  /**
   * Writes the event and, when given, its idempotency record atomically, and resolves only
   * once both are durable. A key already held (and not expired) is never overwritten. In the
   * same atomic write, one delivery record (webhook-store.ts) per active subscription of the
   * tenant that matches the event (subscriptionMatches), due at createdAt, attempts 0.
   */
  create(request: CreateRequest): Promise<CreateOutcome>;
  /** The event if it exists in this tenant and has not expired. */
  get(tenantId: string, eventId: string): Promise<StoredEvent | undefined>;
  /**
   * Acknowledges the event only if it is pending (a conditional write), durably; with a
   * lease id, only if that is its latest lease. Acking again with the lease id that acked it
   * answers `acked` with the first time (a retry), never `not_pending`.
   */
  ack(tenantId: string, eventId: string, acknowledgedAt: number, leaseId?: string): Promise<AckOutcome>;
  /**
   * Atomically leases up to `limit` available events (pending, unexpired, availableAt <= now):
   * each gets a new lease id, leasedUntil = now + timeout, deliveryCount + 1. Concurrent
   * leases never get the same event. Exhausted events met on the way become dead.
   */
  lease(query: LeaseQuery): Promise<LeasedEvent[]>;
  /**
   * Ends the latest lease (`leaseId` must be it): available again at now + delay, or dead when
   * deliveryCount >= maxDeliveries. Repeating it with the same lease id nacks again.
   */
  nack(
    tenantId: string,
    eventId: string,
    leaseId: string,
    delayMs: number,
    maxDeliveries: number,
  ): Promise<NackOutcome>;
  /** leasedUntil = now + timeout for the latest lease, within MAX_LEASE_MS of its start. */
  extend(
    tenantId: string,
    eventId: string,
    leaseId: string,
    visibilityTimeoutMs: number,
  ): Promise<ExtendOutcome>;
  /** An acknowledged or dead event becomes pending, available now, deliveryCount 0, no lease. */
  redeliver(tenantId: string, eventId: string): Promise<RedeliverOutcome>;
  /** Deletes the event if it exists; deleting a missing event is not an error. */
  delete(tenantId: string, eventId: string): Promise<void>;
  /** Available events (pending, unexpired, availableAt <= now), oldest first by createdAt. */
  listPending(query: ListPendingQuery): Promise<ListPendingResult>;
  /** Every unexpired event whatever its status, in `order` by createdAt then eventId. */
  listEvents(query: ListEventsQuery): Promise<ListPendingResult>;
  /** Pending events (see PendingCounts) of the `limit` tenants with the most, and of all. */
  countPending(limit: number): Promise<PendingCounts>;
  /** Throws when the store cannot serve requests. */
  ping(): Promise<void>;
  /**
   * A small durable write that no client ever sees, for readiness (health/readiness.ts):
   * resolves once it is as durable as an event would be, throws UnavailableError when the
   * store cannot take writes now (full disk, read-only file, throttled or unreachable table).
   */
  probeWrite(): Promise<void>;
  /** Finishes pending writes and stops background work. */
  close(): Promise<void>;
}
