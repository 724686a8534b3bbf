import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../clock';
import type {
  AckOutcome,
  CreateOutcome,
  CreateRequest,
  EventStatus,
  EventStore,
  IdempotencyRecord,
  InboxFilters,
  ListPendingQuery,
  ListPendingResult,
  NewEvent,
  Priority,
  StoredEvent,
} from '../event-store';
import { withDynamoFaults } from './errors';
import { INBOX_INDEX } from './tables';

/**
 * The production EventStore on DynamoDB (table design in tables.ts).
 *
 * Idempotency: the key record and the event (and its payload chunks, if any) are written by
 * one `TransactWriteItems`, each Put conditional (`attribute_not_exists(pk)`, or an expired
 * key record). Either all items exist or none does, so a crash can never leave two events
 * for one key nor a key pointing at nothing, and there is no read before the write. It costs
 * twice the WCUs of the same Puts outside a transaction (2 per KB per item) and one round
 * trip; the alternative, a reservation record written first and the event after it, costs
 * two round trips and leaves a reservation to repair after a crash between them.
 * Creates without a key and without chunks are a single conditional Put.
 *
 * Payloads are stored as gzip of their JSON text (never as a DynamoDB map, which cannot
 * hold numbers like 5e-324, integers above 2^53 or empty keys). When the compressed
 * payload exceeds `inlinePayloadBytes`, it is split into chunk items written in the same
 * transaction, so a reader never sees half an event.
 *
 * Reads: every read checks `expires_at` (DynamoDB's TTL deletes lazily, up to days late).
 * The inbox queries the sparse GSI (eventually consistent), then reads the events from the
 * table with strongly consistent reads and keeps only those still pending: an event acked a
 * moment ago never reappears, and filters apply before the limit.
 */
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
}

const DEFAULT_INLINE_PAYLOAD_BYTES = 300 * 1024;
const DEFAULT_CHUNK_BYTES = 300 * 1024;
const MAX_TRANSACTION_CONFLICT_RETRIES = 8;
const BATCH_GET_LIMIT = 100;

type Item = Record<string, unknown>;

export class DynamoEventStore implements EventStore {
  readonly kind = 'dynamodb' as const;
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly clock: Clock;
  private readonly inlinePayloadBytes: number;
  private readonly chunkBytes: number;
  private readonly inboxQueryPageSize: number;
  private readonly inboxReadBudget: number;

  constructor(options: DynamoEventStoreOptions) {
    this.client = options.client;
    this.table = options.tableName;
    this.clock = options.clock;
    this.inlinePayloadBytes = options.inlinePayloadBytes ?? DEFAULT_INLINE_PAYLOAD_BYTES;
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.inboxQueryPageSize = options.inboxQueryPageSize ?? 200;
    this.inboxReadBudget = options.inboxReadBudget ?? 20;
  }

  create({ event, idempotency }: CreateRequest): Promise<CreateOutcome> {
    return withDynamoFaults(async () => {
      const { item, chunks } = this.toItems(event);
      const created: CreateOutcome = {
        kind: 'created',
        event: { ...event, status: 'pending', acknowledgedAt: null },
      };
      if (!idempotency && chunks.length === 0) {
        try {
          await this.client.send(
            new PutCommand({
              TableName: this.table,
              Item: item,
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
        } catch (error) {
          // The id is a fresh UUIDv7, so the item can only be there because this very write
          // landed on an attempt whose answer was lost (timeout) and the SDK retried it.
          if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
        }
        return created;
      }
      const keyPk = idempotencyPk(event.tenantId, idempotency?.key ?? '');
      const items = [
        ...(idempotency
          ? [
              {
                Put: {
                  TableName: this.table,
                  Item: {
                    pk: keyPk,
                    request_hash: idempotency.requestHash,
                    event_id: event.eventId,
                    created_at: event.createdAt,
                    event_expires_at: event.expiresAt,
                    expires_at: idempotency.expiresAt,
                    ttl: toTtl(idempotency.expiresAt),
                  },
                  // Free, or held by a record past its 24 h (TTL deletes it lazily).
                  ConditionExpression: 'attribute_not_exists(pk) OR expires_at <= :now',
                  ExpressionAttributeValues: { ':now': this.clock() },
                },
              },
            ]
          : []),
        { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
        ...chunks.map((chunk) => ({ Put: { TableName: this.table, Item: chunk } })),
      ];
      for (let attempt = 0; ; attempt += 1) {
        try {
          await this.client.send(new TransactWriteCommand({ TransactItems: items }));
          return created;
        } catch (error) {
          const reasons = cancellationReasons(error);
          if (!reasons) throw error;
          if (idempotency && reasons[0] === 'ConditionalCheckFailed') {
            const record = await this.readKey(keyPk, idempotency.key);
            // The holder expired (or was deleted) between the two calls: claim the key again.
            if (!record && attempt < MAX_TRANSACTION_CONFLICT_RETRIES) continue;
            if (!record) throw error;
            return record.requestHash === idempotency.requestHash
              ? { kind: 'replayed', record }
              : { kind: 'key_reused', record };
          }
          // Another transaction held one of the items: retry with a little jittered backoff.
          if (reasons.includes('TransactionConflict') && attempt < MAX_TRANSACTION_CONFLICT_RETRIES) {
            await sleep(Math.random() * 10 * 2 ** attempt);
            continue;
          }
          throw error;
        }
      }
    });
  }

  get(tenantId: string, eventId: string): Promise<StoredEvent | undefined> {
    return withDynamoFaults(async () => {
      const result = await this.client.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: eventPk(tenantId, eventId) },
          ConsistentRead: true,
        }),
      );
      const item = result.Item;
      if (!item || (item.expires_at as number) <= this.clock()) return undefined;
      const [event] = await this.withPayloads([item]);
      return event;
    });
  }

  ack(tenantId: string, eventId: string, acknowledgedAt: number): Promise<AckOutcome> {
    return withDynamoFaults(async () => {
      const now = this.clock();
      // Marks this call's write: if an attempt lands but its answer is lost (timeout), the
      // SDK's retry fails the condition, and the token tells our own ack from someone else's.
      const token = randomUUID();
      try {
        // Conditional on the base table (strongly consistent), whatever the GSI shows yet;
        // removing the inbox keys takes the event out of the sparse index in the same write.
        await this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: eventPk(tenantId, eventId) },
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
        if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      }
      const current = await this.client.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: eventPk(tenantId, eventId) },
          ConsistentRead: true,
          ProjectionExpression: '#status, acknowledged_at, expires_at, ack_token',
          ExpressionAttributeNames: { '#status': 'status' },
        }),
      );
      const item = current.Item;
      if (!item || (item.expires_at as number) <= now) return { kind: 'not_found' };
      if (item.ack_token === token) return { kind: 'acked', acknowledgedAt };
      return {
        kind: 'not_pending',
        status: item.status as EventStatus,
        acknowledgedAt: (item.acknowledged_at as number | undefined) ?? null,
      };
    });
  }

  delete(tenantId: string, eventId: string): Promise<void> {
    return withDynamoFaults(async () => {
      const result = await this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: eventPk(tenantId, eventId) },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const chunkCount = (result.Attributes?.payload_chunks as number | undefined) ?? 0;
      // Chunks outlive the event only if this process dies here; without the event nothing
      // reads them, and their TTL removes them.
      const keys = Array.from({ length: chunkCount }, (_, index) => ({
        pk: chunkPk(tenantId, eventId, index),
      }));
      for (let start = 0; start < keys.length; start += 25) {
        let requests = keys.slice(start, start + 25).map((Key) => ({ DeleteRequest: { Key } }));
        while (requests.length > 0) {
          const written = await this.client.send(
            new BatchWriteCommand({ RequestItems: { [this.table]: requests } }),
          );
          requests = (written.UnprocessedItems?.[this.table] ?? []) as typeof requests;
        }
      }
    });
  }

  listPending(query: ListPendingQuery): Promise<ListPendingResult> {
    return withDynamoFaults(async () => {
      const now = this.clock();
      // One event more than the page tells whether more exist.
      const wanted = query.limit + 1;
      const { input, bounds } = this.inboxQuery(query, now);
      // An empty window (created_after not before created_before): DynamoDB refuses a BETWEEN
      // whose bounds are reversed, and both bounds are excluded anyway.
      if (
        bounds.lowerBound !== undefined &&
        bounds.upperBound !== undefined &&
        bounds.lowerBound >= bounds.upperBound
      ) {
        return { events: [], hasMore: false };
      }
      const filtered = input.FilterExpression !== 'expires_at > :now';
      const found: StoredEvent[] = [];
      let startKey: Item | undefined;
      let calls = 0;
      do {
        const need = wanted - found.length;
        const page = await this.client.send(
          new QueryCommand({
            ...input,
            // Unfiltered, the next `need` entries are the answer; filtered, read more at once.
            Limit: filtered ? this.inboxQueryPageSize : need,
            ExclusiveStartKey: startKey,
          }),
        );
        calls += 1;
        let candidates = (page.Items ?? []).filter((entry) => !isBound(entry.inbox_sk as string, bounds));
        startKey = page.LastEvaluatedKey;
        if (candidates.length > need) {
          // Fetch only what the page needs; the next read resumes after the last one taken.
          candidates = candidates.slice(0, need);
          const last = candidates[need - 1] as Item;
          startKey = { pk: last.pk, inbox_pk: last.inbox_pk, inbox_sk: last.inbox_sk };
        }
        // The index lags the table: read the events themselves and keep those still pending.
        const events = await this.readEvents(candidates.map((entry) => entry.pk as string));
        for (const event of events) {
          if (event.status === 'pending' && event.expiresAt > now && matches(event, query.filters))
            found.push(event);
        }
      } while (startKey && found.length < wanted && (found.length === 0 || calls < this.inboxReadBudget));
      found.sort(byInboxOrder);
      // Stopped by the read budget with more index left: more may match, and the cursor
      // resumes after the last event returned.
      const budgetSpent = startKey !== undefined && found.length < wanted;
      return { events: found.slice(0, query.limit), hasMore: found.length > query.limit || budgetSpent };
    });
  }

  ping(): Promise<void> {
    return withDynamoFaults(async () => {
      await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: '__ping__' } }));
    });
  }

  async close(): Promise<void> {
    // The client belongs to whoever made it; nothing is buffered here.
  }

  /** The key condition and filter of one inbox query (see tables.ts for the index). */
  private inboxQuery(
    { tenantId, filters, after }: ListPendingQuery,
    now: number,
  ): { input: QueryCommandInput; bounds: Bounds } {
    const afterSk = after ? inboxSk(after.createdAt, after.eventId) : undefined;
    // `#` sorts below every character of an id and `\uffff` above, so these bounds fall
    // between the sort keys of one millisecond and the next.
    const fromSk =
      filters.createdAfter === undefined
        ? undefined
        : `${new Date(filters.createdAfter).toISOString()}#\uffff`;
    // The later of the two lower bounds (sort keys compare as strings).
    const lower = [afterSk, fromSk]
      .filter((bound) => bound !== undefined)
      .sort()
      .at(-1);
    const upper =
      filters.createdBefore === undefined ? undefined : `${new Date(filters.createdBefore).toISOString()}#`;
    const values: Record<string, unknown> = { ':tenant': tenantId, ':now': now };
    let keyCondition = 'inbox_pk = :tenant';
    if (lower !== undefined && upper !== undefined) {
      keyCondition += ' AND inbox_sk BETWEEN :lower AND :upper';
      values[':lower'] = lower;
      values[':upper'] = upper;
    } else if (lower !== undefined) {
      keyCondition += ' AND inbox_sk > :lower';
      values[':lower'] = lower;
    } else if (upper !== undefined) {
      keyCondition += ' AND inbox_sk < :upper';
      values[':upper'] = upper;
    }
    const conditions = ['expires_at > :now'];
    const names: Record<string, string> = {};
    const equals = { source: filters.source, event_type: filters.eventType, priority: filters.priority };
    for (const [attribute, value] of Object.entries(equals)) {
      if (value === undefined) continue;
      conditions.push(`#${attribute} = :${attribute}`);
      names[`#${attribute}`] = attribute;
      values[`:${attribute}`] = value;
    }
    return {
      input: {
        TableName: this.table,
        IndexName: INBOX_INDEX,
        KeyConditionExpression: keyCondition,
        FilterExpression: conditions.join(' AND '),
        ExpressionAttributeNames: Object.keys(names).length > 0 ? names : undefined,
        ExpressionAttributeValues: values,
      },
      bounds: { lowerBound: lower, upperBound: upper },
    };
  }

  /** Reads events by key with strongly consistent reads, payloads included. */
  private async readEvents(pks: string[]): Promise<StoredEvent[]> {
    const items: Item[] = [];
    for (let start = 0; start < pks.length; start += BATCH_GET_LIMIT) {
      items.push(...(await this.batchGet(pks.slice(start, start + BATCH_GET_LIMIT))));
    }
    return this.withPayloads(items);
  }

  private async batchGet(pks: string[]): Promise<Item[]> {
    const items: Item[] = [];
    let keys = pks.map((pk) => ({ pk }));
    while (keys.length > 0) {
      const result = await this.client.send(
        new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
      );
      items.push(...((result.Responses?.[this.table] ?? []) as Item[]));
      keys = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Array<{ pk: string }>;
    }
    return items;
  }

  /** Maps event items to events, fetching the chunks of chunked payloads. */
  private async withPayloads(items: Item[]): Promise<StoredEvent[]> {
    const chunkPks = items.flatMap((item) =>
      Array.from({ length: (item.payload_chunks as number | undefined) ?? 0 }, (_, index) =>
        chunkPk(item.tenant_id as string, item.event_id as string, index),
      ),
    );
    const chunks = new Map<string, Uint8Array>();
    for (let start = 0; start < chunkPks.length; start += BATCH_GET_LIMIT) {
      for (const chunk of await this.batchGet(chunkPks.slice(start, start + BATCH_GET_LIMIT))) {
        chunks.set(chunk.pk as string, chunk.data as Uint8Array);
      }
    }
    return items.map((item) => {
      const count = (item.payload_chunks as number | undefined) ?? 0;
      const compressed =
        count === 0
          ? (item.payload as Uint8Array)
          : Buffer.concat(
              Array.from({ length: count }, (_, index) => {
                const part = chunks.get(chunkPk(item.tenant_id as string, item.event_id as string, index));
                if (!part) throw new Error(`payload chunk ${index} of ${item.pk as string} is missing`);
                return part;
              }),
            );
      return toStoredEvent(item, gunzipSync(compressed).toString('utf8'));
    });
  }

  private async readKey(pk: string, key: string): Promise<IdempotencyRecord | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { pk }, ConsistentRead: true }),
    );
    const item = result.Item;
    if (!item || (item.expires_at as number) <= this.clock()) return undefined;
    return {
      key,
      requestHash: item.request_hash as string,
      eventId: item.event_id as string,
      createdAt: item.created_at as number,
      eventExpiresAt: item.event_expires_at as number,
    };
  }

  /** The event item and, for a payload too large to inline, its chunk items. */
  private toItems(event: NewEvent): { item: Item; chunks: Item[] } {
    const compressed = gzipSync(Buffer.from(event.payloadJson, 'utf8'));
    const ttl = toTtl(event.expiresAt);
    const item: Item = {
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
      ttl,
      inbox_pk: event.tenantId,
      inbox_sk: inboxSk(event.createdAt, event.eventId),
    };
    if (compressed.length <= this.inlinePayloadBytes)
      return { item: { ...item, payload: compressed }, chunks: [] };
    const chunks: Item[] = [];
    for (let offset = 0; offset < compressed.length; offset += this.chunkBytes) {
      chunks.push({
        pk: chunkPk(event.tenantId, event.eventId, chunks.length),
        data: compressed.subarray(offset, offset + this.chunkBytes),
        ttl,
      });
    }
    return { item: { ...item, payload_chunks: chunks.length }, chunks };
  }
}

interface Bounds {
  lowerBound?: string;
  upperBound?: string;
}

/** BETWEEN is inclusive; the bounds themselves (the cursor's own event) are excluded. */
function isBound(sk: string, bounds: Bounds): boolean {
  return sk === bounds.lowerBound || sk === bounds.upperBound;
}

function matches(event: StoredEvent, filters: InboxFilters): boolean {
  return (
    (filters.source === undefined || event.source === filters.source) &&
    (filters.eventType === undefined || event.eventType === filters.eventType) &&
    (filters.priority === undefined || event.priority === filters.priority) &&
    (filters.createdAfter === undefined || event.createdAt > filters.createdAfter) &&
    (filters.createdBefore === undefined || event.createdAt < filters.createdBefore)
  );
}

function byInboxOrder(a: StoredEvent, b: StoredEvent): number {
  return a.createdAt - b.createdAt || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}

function eventPk(tenantId: string, eventId: string): string {
  return `${tenantId}#${eventId}`;
}

function chunkPk(tenantId: string, eventId: string, index: number): string {
  return `${tenantId}#${eventId}#chunk#${index}`;
}

function idempotencyPk(tenantId: string, key: string): string {
  return `${tenantId}#idem#${key}`;
}

function inboxSk(createdAt: number, eventId: string): string {
  return `${new Date(createdAt).toISOString()}#${eventId}`;
}

function toTtl(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}

function toStoredEvent(item: Item, payloadJson: string): StoredEvent {
  return {
    tenantId: item.tenant_id as string,
    eventId: item.event_id as string,
    createdAt: item.created_at as number,
    source: item.source as string,
    eventType: item.event_type as string,
    payloadJson,
    priority: item.priority as Priority,
    metadata: JSON.parse(item.metadata as string) as Record<string, unknown>,
    status: item.status as EventStatus,
    acknowledgedAt: (item.acknowledged_at as number | undefined) ?? null,
    expiresAt: item.expires_at as number,
  };
}

function cancellationReasons(error: unknown): string[] | undefined {
  const candidate = error as { name?: string; CancellationReasons?: Array<{ Code?: string }> };
  if (candidate?.name !== 'TransactionCanceledException') return undefined;
  return (candidate.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
