import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../clock';
import type {
  AckOutcome,
  CreateOutcome,
  CreateRequest,
  EventStore,
  ExtendOutcome,
  LeasedEvent,
  LeaseQuery,
  ListEventsQuery,
  ListPendingQuery,
  ListPendingResult,
  NackOutcome,
  PendingCounts,
  RedeliverOutcome,
  StoredEvent,
} from '../event-store';
import type { RetryPolicy } from './backoff';
import { type BatchTarget, batchDeleteByPk, batchGetByPk, UNPROCESSED_RETRY } from './batch';
import { createEvent, type EventTable } from './create-event';
import { withDynamoFaults } from './errors';
import { ackEvent, extendLease, nackEvent, redeliverEvent } from './event-changes';
import { type EventItem, readChunkItem, readEventItem, toStoredEvent } from './event-item';
import { queryEvents } from './events-query';
import { queryInbox } from './inbox-query';
import type { IndexPageSource } from './index-page';
import { eventPk } from './item-keys';
import { type LeaseSource, leaseEvents } from './lease';
import { chunkPksOf, type PayloadSizes, unpackPayload } from './payload';
import { countPendingByScan, type PendingCountSource } from './pending-count';

export interface DynamoEventStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock: Clock;
  /** Compressed payload bytes kept in the event item itself; beyond, chunk items. */
  inlinePayloadBytes?: number;
  /** Size of one chunk item's payload slice. */
  chunkBytes?: number;
  /** Index entries read per Query call of the inbox, the event list and a lease. */
  inboxQueryPageSize?: number;
  /**
   * Query calls one inbox or event list page may make once it holds an event. A page that has
   * found none keeps reading: an empty page with `has_more` would break the paging contract.
   * A lease makes this many at most (returning fewer events, or none, breaks nothing).
   */
  inboxReadBudget?: number;
  /**
   * Scan calls one countPending may make, each up to 1 MB of the inbox index (see
   * pending-count.ts): 10 reads up to ~50,000 pending events for at most 1,280 read units.
   */
  pendingScanPages?: number;
  /** Index entries per Scan call of countPending; unset, 1 MB pages. Tests set a few. */
  pendingScanPageSize?: number;
  /** How batch reads and deletes resend what DynamoDB left unprocessed (see batch.ts). */
  unprocessedRetry?: Partial<RetryPolicy>;
}

const DEFAULT_INLINE_PAYLOAD_BYTES = 300 * 1024;
const DEFAULT_CHUNK_BYTES = 300 * 1024;

/**
 * The production EventStore on DynamoDB (table design in tables.ts, items in event-item.ts).
 * Creates are in create-event.ts (one transaction with the idempotency record), payloads in
 * payload.ts (gzipped, chunked past `inlinePayloadBytes`), the inbox in inbox-query.ts and
 * the event list in events-query.ts (both through index-page.ts), leases in lease.ts, and
 * ack, nack, extend and redeliver in event-changes.ts, the pending count (a bounded Scan, for
 * the long-running server's metrics only) in pending-count.ts.
 *
 * Reads: every read checks `expires_at` (DynamoDB's TTL deletes lazily, up to days late).
 */
export class DynamoEventStore implements EventStore {
  readonly kind = 'dynamodb' as const;
  private readonly events: EventTable;
  private readonly payloadSizes: PayloadSizes;
  private readonly batches: BatchTarget;
  private readonly inbox: IndexPageSource;
  private readonly leases: LeaseSource;
  private readonly pendingCount: PendingCountSource;

  constructor(options: DynamoEventStoreOptions) {
    const { client, tableName, clock } = options;
    this.events = { client, tableName, clock };
    this.payloadSizes = {
      inlineBytes: options.inlinePayloadBytes ?? DEFAULT_INLINE_PAYLOAD_BYTES,
      chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    };
    this.batches = { client, tableName, retry: { ...UNPROCESSED_RETRY, ...options.unprocessedRetry } };
    this.inbox = {
      client,
      tableName,
      queryPageSize: options.inboxQueryPageSize ?? 200,
      readBudget: options.inboxReadBudget ?? 20,
      readEvents: (pks) => this.readEvents(pks),
    };
    this.leases = {
      client,
      tableName,
      queryPageSize: this.inbox.queryPageSize,
      readBudget: this.inbox.readBudget,
      withPayloads: (items) => this.withPayloads(items),
    };
    this.pendingCount = {
      client,
      tableName,
      maxScanPages: options.pendingScanPages ?? 10,
      scanPageSize: options.pendingScanPageSize,
    };
  }

  create(request: CreateRequest): Promise<CreateOutcome> {
    return withDynamoFaults(() => createEvent(this.events, request, this.payloadSizes, this.batches));
  }

  get(tenantId: string, eventId: string): Promise<StoredEvent | undefined> {
    const { client, tableName, clock } = this.events;
    return withDynamoFaults(async () => {
      const result = await client.send(
        new GetCommand({
          TableName: tableName,
          Key: { pk: eventPk(tenantId, eventId) },
          ConsistentRead: true,
        }),
      );
      if (!result.Item) return undefined;
      const item = readEventItem(result.Item);
      if (item.expires_at <= clock()) return undefined;
      const [event] = await this.withPayloads([item]);
      return event;
    });
  }

  ack(tenantId: string, eventId: string, acknowledgedAt: number, leaseId?: string): Promise<AckOutcome> {
    return withDynamoFaults(() =>
      ackEvent(this.events, tenantId, eventId, acknowledgedAt, leaseId, this.events.clock()),
    );
  }

  lease(query: LeaseQuery): Promise<LeasedEvent[]> {
    return withDynamoFaults(() => leaseEvents(this.leases, query, this.events.clock()));
  }

  nack(
    tenantId: string,
    eventId: string,
    leaseId: string,
    delayMs: number,
    maxDeliveries: number,
  ): Promise<NackOutcome> {
    return withDynamoFaults(() =>
      nackEvent(this.events, tenantId, eventId, leaseId, delayMs, maxDeliveries, this.events.clock()),
    );
  }

  extend(
    tenantId: string,
    eventId: string,
    leaseId: string,
    visibilityTimeoutMs: number,
  ): Promise<ExtendOutcome> {
    return withDynamoFaults(() =>
      extendLease(this.events, tenantId, eventId, leaseId, visibilityTimeoutMs, this.events.clock()),
    );
  }

  redeliver(tenantId: string, eventId: string): Promise<RedeliverOutcome> {
    return withDynamoFaults(() => redeliverEvent(this.events, tenantId, eventId, this.events.clock()));
  }

  delete(tenantId: string, eventId: string): Promise<void> {
    const { client, tableName } = this.events;
    return withDynamoFaults(async () => {
      const result = await client.send(
        new DeleteCommand({
          TableName: tableName,
          Key: { pk: eventPk(tenantId, eventId) },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const deleted = result.Attributes && readEventItem(result.Attributes);
      // Chunks outlive the event only if this process dies here or their deletes stay
      // unprocessed: without the event nothing reads them, and their TTL removes them.
      await batchDeleteByPk(this.batches, deleted ? chunkPksOf(deleted) : []);
    });
  }

  listPending(query: ListPendingQuery): Promise<ListPendingResult> {
    return withDynamoFaults(() => queryInbox(this.inbox, query, this.events.clock()));
  }

  listEvents(query: ListEventsQuery): Promise<ListPendingResult> {
    return withDynamoFaults(() => queryEvents(this.inbox, query, this.events.clock()));
  }

  countPending(limit: number): Promise<PendingCounts> {
    return withDynamoFaults(() => countPendingByScan(this.pendingCount, limit, this.events.clock()));
  }

  ping(): Promise<void> {
    const { client, tableName } = this.events;
    return withDynamoFaults(async () => {
      await client.send(new GetCommand({ TableName: tableName, Key: { pk: '__ping__' } }));
    });
  }

  /**
   * A conditional UpdateItem on the probe item (`pk = __readiness__`, no tenant's key can take
   * that form): written like an event's conditional writes, and the condition makes sure it
   * never lands on an item of another kind. Items without `due_pk` are ignored by the stream
   * handler (delivery-stream.ts), so the probe never starts a delivery.
   */
  probeWrite(): Promise<void> {
    const { client, tableName, clock } = this.events;
    return withDynamoFaults(async () => {
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: '__readiness__' },
          UpdateExpression: 'SET probed_at = :now ADD probes :one',
          ConditionExpression: 'attribute_not_exists(pk) OR attribute_exists(probes)',
          ExpressionAttributeValues: { ':now': clock(), ':one': 1 },
        }),
      );
    });
  }

  async close(): Promise<void> {
    // The client belongs to whoever made it; nothing is buffered here.
  }

  /** Reads events by key with strongly consistent reads, payloads included. */
  private async readEvents(pks: string[]): Promise<StoredEvent[]> {
    const items = await batchGetByPk(this.batches, pks);
    return this.withPayloads(items.map(readEventItem));
  }

  /** Maps event items to events, reading the chunks of chunked payloads. */
  private async withPayloads(items: EventItem[]): Promise<StoredEvent[]> {
    const chunkItems = await batchGetByPk(this.batches, items.flatMap(chunkPksOf));
    const chunks = new Map(chunkItems.map(readChunkItem).map((chunk) => [chunk.pk, chunk.data]));
    return items.map((item) => toStoredEvent(item, unpackPayload(item, chunks)));
  }
}
