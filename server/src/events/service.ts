import { createHash } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import { v7 as uuidv7 } from 'uuid';
import type { Principal } from '../auth/principal';
import { type Clock, toIso } from '../clock';
import {
  AppError,
  ConflictError,
  type FieldError,
  IdempotencyKeyReusedError,
  LeaseMismatchError,
  NotFoundError,
  PayloadTooLargeError,
  SourceNotAllowedError,
  ValidationError,
} from '../errors';
import type { components } from '../generated/triggers';
import { exceedsDepth, findNonFiniteNumber } from '../json-depth';
import type { AppMetrics } from '../metrics';
import type { AckOutcome, CreateOutcome, CreateRequest, EventStore, StoredEvent } from '../store/event-store';
import { summarize } from '../validation-messages';
import { storedEventId } from './event-id';

type EventInput = components['schemas']['EventInput'];
type ItemError = components['schemas']['ItemError'];

/** `payload` limit: bytes of its compact UTF-8 JSON serialization. */
export const PAYLOAD_LIMIT_BYTES = 409_600;
export const PAYLOAD_MAX_DEPTH = 64;
/**
 * `metadata` limit, in the same bytes: it is stored as it is next to the (compressed) payload,
 * and both must fit in one DynamoDB item of 400 KB.
 */
export const METADATA_LIMIT_BYTES = 16_384;
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface CreatedEvent {
  eventId: string;
  createdAt: string;
  expiresAt: string;
  /** True when an earlier request with the same idempotency key created the event. */
  replayed: boolean;
}

export interface BulkCreateResult {
  successful: Array<CreatedEvent & { index: number }>;
  failed: Array<{ index: number; error: ItemError }>;
}

export interface AckedEvent {
  eventId: string;
  acknowledgedAt: string;
}

export interface BulkAckResult {
  successful: AckedEvent[];
  failed: Array<{ eventId: string; error: ItemError }>;
}

export interface EventsServiceOptions {
  store: EventStore;
  clock: Clock;
  retentionMs: number;
  /** Checks one bulk item against the contract's EventInput; see input-schema.ts. */
  validateEventInput: (value: unknown, basePath: string) => FieldError[];
  metrics: AppMetrics;
  /** Called once new events are stored: wakes the tenant's long-polling requests. */
  notifyAvailable: (tenantId: string) => void;
}

/** The rules of ingest, read, ack and delete. Depends only on the EventStore port. */
export class EventsService {
  constructor(private readonly options: EventsServiceOptions) {}

  async create(principal: Principal, input: EventInput, headerKey?: string): Promise<CreatedEvent> {
    const request = this.prepare(principal, input, resolveKey(input, headerKey), '');
    const created = settleCreate(await this.options.store.create(request));
    this.countCreated([created]);
    if (!created.replayed) this.options.notifyAvailable(principal.tenantId);
    return created;
  }

  /**
   * Bulk ingest: each item is validated, sized and written on its own (all in one group
   * commit), so a bad item fails alone and writes nothing. An item without a key of its own
   * uses `<Idempotency-Key header>:<index>`, which makes a retried bulk request safe.
   * A key given to several items is claimed by its first occurrence: later ones wait for
   * that write and then replay it or fail with 422, so the outcome does not depend on which
   * concurrent write lands first (on DynamoDB, either could).
   * `readItem` turns an item into an EventInput first (a CloudEvents batch maps each
   * CloudEvent), throwing an AppError for an item that fails alone; the result is then
   * checked against the contract's EventInput like a native item.
   */
  async createMany(
    principal: Principal,
    items: unknown[],
    headerKey?: string,
    readItem: (item: unknown, index: number) => unknown = (item) => item,
  ): Promise<BulkCreateResult> {
    const result: BulkCreateResult = { successful: [], failed: [] };
    const writes: Array<Promise<void>> = [];
    const lastWriteOfKey = new Map<string, Promise<CreateOutcome>>();
    items.forEach((item, index) => {
      try {
        const candidate = readItem(item, index);
        const errors = this.options.validateEventInput(candidate, `/items/${index}`);
        if (errors.length > 0) {
          throw new ValidationError(summarize(errors), errors);
        }
        const input = candidate as EventInput;
        const ownKey = input.metadata?.idempotency_key;
        const key = ownKey ?? (headerKey === undefined ? undefined : `${headerKey}:${index}`);
        const request = this.prepare(principal, input, key, `/items/${index}`, ownKey !== undefined);
        const write = () => this.options.store.create(request);
        const earlier = key === undefined ? undefined : lastWriteOfKey.get(key);
        const outcome = earlier ? earlier.then(write, write) : write();
        if (key !== undefined) lastWriteOfKey.set(key, outcome);
        writes.push(
          outcome.then(settleCreate).then(
            (created) => {
              result.successful.push({ index, ...created });
            },
            (error: unknown) => {
              if (!(error instanceof IdempotencyKeyReusedError)) throw error;
              result.failed.push({ index, error: toItemError(error) });
            },
          ),
        );
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        result.failed.push({ index, error: toItemError(error) });
      }
    });
    await Promise.all(writes);
    this.countCreated(result.successful);
    if (result.successful.some((item) => !item.replayed)) this.options.notifyAvailable(principal.tenantId);
    result.successful.sort((a, b) => a.index - b.index);
    result.failed.sort((a, b) => a.index - b.index);
    return result;
  }

  async get(principal: Principal, eventId: string): Promise<StoredEvent> {
    const id = storedEventId(eventId);
    const event = id === undefined ? undefined : await this.options.store.get(principal.tenantId, id);
    if (!event) throw new NotFoundError();
    return event;
  }

  async delete(principal: Principal, eventId: string): Promise<void> {
    const id = storedEventId(eventId);
    if (id !== undefined) await this.options.store.delete(principal.tenantId, id);
  }

  /** With `leaseId`, only if that is the event's latest lease (a retry of that ack succeeds). */
  async ack(principal: Principal, eventId: string, leaseId?: string): Promise<AckedEvent> {
    const acked = settleAck(eventId, await this.ackOutcome(principal, eventId, leaseId));
    this.options.metrics.eventsAcked(1);
    return acked;
  }

  /**
   * Each id is acked on its own, exactly as a single ack; failures are listed, not thrown.
   * Distinct ids are acked concurrently, but an id given twice is acked once: its first
   * occurrence gets the store's answer and later ones the answer a second ack would get,
   * so the outcome does not depend on which concurrent write lands first.
   */
  async ackMany(principal: Principal, eventIds: string[]): Promise<BulkAckResult> {
    const firstAcks = new Map<string, Promise<AckOutcome>>();
    const outcomes = await Promise.all(
      eventIds.map((id) => {
        const key = id.toLowerCase();
        const first = firstAcks.get(key);
        if (first) return first.then(outcomeOfRepeat);
        const outcome = this.ackOutcome(principal, id);
        firstAcks.set(key, outcome);
        return outcome;
      }),
    );
    const result: BulkAckResult = { successful: [], failed: [] };
    outcomes.forEach((outcome, index) => {
      const eventId = eventIds[index] as string;
      try {
        result.successful.push(settleAck(eventId, outcome));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        result.failed.push({ eventId, error: toItemError(error) });
      }
    });
    this.options.metrics.eventsAcked(result.successful.length);
    return result;
  }

  private countCreated(created: CreatedEvent[]): void {
    const replayed = created.filter((event) => event.replayed).length;
    if (created.length > replayed) this.options.metrics.eventsIngested(created.length - replayed);
    if (replayed > 0) this.options.metrics.eventsReplayed(replayed);
  }

  private ackOutcome(principal: Principal, eventId: string, leaseId?: string): Promise<AckOutcome> {
    const id = storedEventId(eventId);
    if (id === undefined) return Promise.resolve({ kind: 'not_found' });
    return this.options.store.ack(principal.tenantId, id, this.options.clock(), leaseId);
  }

  /** Turns a valid input into the write request, enforcing the limits the schema cannot state. */
  private prepare(
    principal: Principal,
    input: EventInput,
    idempotencyKey: string | undefined,
    basePath: string,
    keyInMetadata = true,
  ): CreateRequest {
    // First: a key bound to a source learns nothing about events it may not send.
    const source = input.source.trim();
    if (principal.source !== null && source !== principal.source) {
      throw new SourceNotAllowedError(principal.source, source);
    }
    const payloadJson = JSON.stringify(input.payload);
    const payloadBytes = Buffer.byteLength(payloadJson, 'utf8');
    if (payloadBytes > PAYLOAD_LIMIT_BYTES) {
      throw new PayloadTooLargeError('payload', PAYLOAD_LIMIT_BYTES, payloadBytes);
    }
    if (input.metadata !== undefined) {
      const metadataBytes = Buffer.byteLength(JSON.stringify(input.metadata), 'utf8');
      if (metadataBytes > METADATA_LIMIT_BYTES) {
        throw new PayloadTooLargeError('metadata', METADATA_LIMIT_BYTES, metadataBytes);
      }
    }
    if (exceedsDepth(input.payload, PAYLOAD_MAX_DEPTH)) {
      throw new ValidationError(`payload is nested deeper than ${PAYLOAD_MAX_DEPTH} levels.`, [
        {
          path: `${basePath}/payload`,
          message: `must not be nested deeper than ${PAYLOAD_MAX_DEPTH} levels`,
        },
      ]);
    }
    const outOfRange =
      findNonFiniteNumber(input.payload, `${basePath}/payload`) ??
      findNonFiniteNumber(input.metadata ?? {}, `${basePath}/metadata`);
    if (outOfRange !== undefined) {
      throw new ValidationError(`${outOfRange} is a number outside the range JSON numbers can carry.`, [
        { path: outOfRange, message: 'must be a finite number (at most about 1.8e308 in magnitude)' },
      ]);
    }
    const eventType = input.event_type.trim();
    const { idempotency_key: _ignored, ...givenMetadata } = input.metadata ?? {};
    const priority = input.metadata?.priority ?? 'normal';
    const metadata: Record<string, unknown> = { ...givenMetadata, priority };
    const now = this.options.clock();
    const event = {
      tenantId: principal.tenantId,
      eventId: uuidv7({ msecs: now }),
      createdAt: now,
      source,
      eventType,
      payloadJson,
      priority,
      metadata:
        idempotencyKey !== undefined && keyInMetadata
          ? { ...metadata, idempotency_key: idempotencyKey }
          : metadata,
      expiresAt: now + this.options.retentionMs,
    };
    if (idempotencyKey === undefined) return { event };
    // The canonical body: what the event would contain, keys sorted, the key itself left out
    // (so a key sent as a header or in metadata names the same request).
    const requestHash = createHash('sha256')
      .update(stringify({ source, event_type: eventType, payload: input.payload, metadata }) ?? '')
      .digest('hex');
    return {
      event,
      idempotency: { key: idempotencyKey, requestHash, expiresAt: now + IDEMPOTENCY_TTL_MS },
    };
  }
}

/** The effective idempotency key; header and metadata may both name it only if they agree. */
function resolveKey(input: EventInput, headerKey: string | undefined): string | undefined {
  const metadataKey = input.metadata?.idempotency_key;
  if (headerKey !== undefined && metadataKey !== undefined && headerKey !== metadataKey) {
    throw new ValidationError(
      'The Idempotency-Key header and metadata.idempotency_key differ; send one key.',
      [
        {
          path: '/headers/idempotency-key',
          message: 'must equal metadata.idempotency_key when both are given',
        },
      ],
    );
  }
  return headerKey ?? metadataKey;
}

function settleCreate(outcome: CreateOutcome): CreatedEvent {
  switch (outcome.kind) {
    case 'created':
      return {
        eventId: outcome.event.eventId,
        createdAt: toIso(outcome.event.createdAt),
        expiresAt: toIso(outcome.event.expiresAt),
        replayed: false,
      };
    case 'replayed':
      return {
        eventId: outcome.record.eventId,
        createdAt: toIso(outcome.record.createdAt),
        expiresAt: toIso(outcome.record.eventExpiresAt),
        replayed: true,
      };
    case 'key_reused':
      throw new IdempotencyKeyReusedError(outcome.record.key, outcome.record.eventId);
  }
}

/** What acking an id again right after `first` answers. */
function outcomeOfRepeat(first: AckOutcome): AckOutcome {
  return first.kind === 'acked'
    ? { kind: 'not_pending', status: 'acknowledged', acknowledgedAt: first.acknowledgedAt }
    : first;
}

function settleAck(eventId: string, outcome: AckOutcome): AckedEvent {
  switch (outcome.kind) {
    case 'acked':
      return { eventId: eventId.toLowerCase(), acknowledgedAt: toIso(outcome.acknowledgedAt) };
    case 'not_found':
      throw new NotFoundError();
    case 'not_pending':
      throw new ConflictError(
        outcome.status,
        outcome.acknowledgedAt === null ? null : toIso(outcome.acknowledgedAt),
      );
    case 'lease_mismatch':
      throw new LeaseMismatchError(outcome.status);
  }
}

export function toItemError(error: AppError): ItemError {
  return { code: error.code, message: error.message, details: error.details };
}
