import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../clock';
import type {
  AckOutcome,
  CreateOutcome,
  CreateRequest,
  EventStore,
  ListPendingQuery,
  ListPendingResult,
  StoredEvent,
} from '../event-store';
import type { RetryPolicy } from './backoff';
import { type BatchTarget, batchDeleteByPk, batchGetByPk, UNPROCESSED_RETRY } from './batch';
import { createEvent, type EventTable } from './create-event';
import { withDynamoFaults } from './errors';
import { type EventItem, readAckState, readChunkItem, readEventItem, toStoredEvent } from './event-item';
import { type InboxSource, queryInbox } from './inbox-query';
import { eventPk } from './item-keys';
import { chunkPksOf, type PayloadSizes, unpackPayload } from './payload';

export interface DynamoEventStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock: Clock;
  /** Compressed payload bytes kept in the event item itself; beyond, chunk items. */
  inlinePayloadBytes?: number;
  /** Size of one chunk item's payload slice. */
  chunkBytes?: number;
  /** Index entries read per Query call of the inbox. */
  inboxQueryPageSize?: number;
  /**
   * Query calls one inbox page may make once it holds an event. A page that has found none
   * keeps reading: an empty page with `has_more` would break the paging contract.
   */
  inboxReadBudget?: number;
  /** How batch reads and deletes resend what DynamoDB left unprocessed (see batch.ts). */
  unprocessedRetry?: Partial<RetryPolicy>;
}

const DEFAULT_INLINE_PAYLOAD_BYTES = 300 * 1024;
const DEFAULT_CHUNK_BYTES = 300 * 1024;

/**
 * The production EventStore on DynamoDB (table design in tables.ts, items in event-item.ts).
 * Creates are in create-event.ts (one transaction with the idempotency record), payloads in
 * payload.ts (gzipped, chunked past `inlinePayloadBytes`), the inbox in inbox-query.ts.
 *
 * Reads: every read checks `expires_at` (DynamoDB's TTL deletes lazily, up to days late).
 */
export class DynamoEventStore implements EventStore {
  readonly kind = 'dynamodb' as const;
  private readonly events: EventTable;
  private readonly payloadSizes: PayloadSizes;
  private readonly batches: BatchTarget;
  private readonly inbox: InboxSource;

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
  }

  create(request: CreateRequest): Promise<CreateOutcome> {
    return withDynamoFaults(() => createEvent(this.events, request, this.payloadSizes));
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

  ack(tenantId: string, eventId: string, acknowledgedAt: number): Promise<AckOutcome> {
    const { client, tableName, clock } = this.events;
    const Key = { pk: eventPk(tenantId, eventId) };
    return withDynamoFaults(async () => {
      const now = clock();
      // Marks this call's write: if an attempt lands but its answer is lost (timeout), the
      // SDK's retry fails the condition, and the token tells our own ack from someone else's.
      const token = randomUUID();
      try {
        // Conditional on the base table (strongly consistent), whatever the GSI shows yet;
        // removing the inbox keys takes the event out of the sparse index in the same write.
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key,
            UpdateExpression:
              'SET #status = :acknowledged, acknowledged_at = :at, ack_token = :token REMOVE inbox_pk, inbox_sk',
            ConditionExpression: '#status = :pending AND expires_at > :now',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':acknowledged': 'acknowledged',
              ':pending': 'pending',
              ':at': acknowledgedAt,
              ':now': now,
              ':token': token,
            },
          }),
        );
        return { kind: 'acked', acknowledgedAt };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const current = await client.send(
        new GetCommand({
          TableName: tableName,
          Key,
          ConsistentRead: true,
          ProjectionExpression: '#status, acknowledged_at, expires_at, ack_token',
          ExpressionAttributeNames: { '#status': 'status' },
        }),
      );
      if (!current.Item) return { kind: 'not_found' };
      const state = readAckState(current.Item);
      if (state.expires_at <= now) return { kind: 'not_found' };
      if (state.ack_token === token) return { kind: 'acked', acknowledgedAt };
      return { kind: 'not_pending', status: state.status, acknowledgedAt: state.acknowledged_at ?? null };
    });
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

  ping(): Promise<void> {
    const { client, tableName } = this.events;
    return withDynamoFaults(async () => {
      await client.send(new GetCommand({ TableName: tableName, Key: { pk: '__ping__' } }));
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
