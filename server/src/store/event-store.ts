/**
 * The storage port. The service depends only on this; each adapter (sqlite/, dynamodb/)
 * implements it and is held to the shared conformance suite in tests/store/. Times are epoch
 * milliseconds; the wire format (ISO strings, snake_case) belongs to the HTTP layer.
 */

export type EventStatus = 'pending' | 'acknowledged';
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
}

export type NewEvent = Omit<StoredEvent, 'status' | 'acknowledgedAt'>;

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

export type AckOutcome =
  | { kind: 'acked'; acknowledgedAt: number }
  | { kind: 'not_found' }
  | { kind: 'not_pending'; status: EventStatus; acknowledgedAt: number | null };

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
  /** At most `limit` pending, unexpired events matching the filters, oldest first. */
  events: StoredEvent[];
  /** True iff more matching pending events existed after the last one returned. */
  hasMore: boolean;
}

export interface EventStore {
  /** Short name reported by health: `sqlite` or `dynamodb`. */
  readonly kind: 'sqlite' | 'dynamodb';
  /**
   * Writes the event and, when given, its idempotency record atomically, and resolves only
   * once both are durable. A key already held (and not expired) is never overwritten.
   */
  create(request: CreateRequest): Promise<CreateOutcome>;
  /** The event if it exists in this tenant and has not expired. */
  get(tenantId: string, eventId: string): Promise<StoredEvent | undefined>;
  /** Acknowledges the event only if it is pending (a conditional write), durably. */
  ack(tenantId: string, eventId: string, acknowledgedAt: number): Promise<AckOutcome>;
  /** Deletes the event if it exists; deleting a missing event is not an error. */
  delete(tenantId: string, eventId: string): Promise<void>;
  listPending(query: ListPendingQuery): Promise<ListPendingResult>;
  /** Throws when the store cannot serve requests. */
  ping(): Promise<void>;
  /** Finishes pending writes and stops background work. */
  close(): Promise<void>;
}
