import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { LeasedEvent, LeaseQuery, StoredEvent } from '../event-store';
import {
  type AvailableEntry,
  type EventItem,
  OUT_OF_PENDING_INDEXES,
  readAvailableEntry,
  readEventItem,
} from './event-item';
import { equalities, filterExpression } from './index-page';
import type { RawItem } from './item-attributes';
import { availableUpTo, rescheduledSk } from './item-keys';
import { AVAILABLE_KEYS } from './tables';

export interface LeaseSource {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Index entries read per Query call after the first (see queryIndexPage). */
  queryPageSize: number;
  /** Query calls one lease may make at most. */
  readBudget: number;
  /** Maps event items to events, reading the chunks of chunked payloads. */
  withPayloads(items: EventItem[]): Promise<StoredEvent[]>;
}

/**
 * EventStore.lease. Candidates come from the sparse `available` index (tables.ts) in lease
 * order, read up to `{now}#\uffff` only: a leased event's key starts at its lease's end, in
 * the future, so a lease never reads one. Each candidate is then taken by one conditional
 * UpdateItem on the table (strongly consistent), whose condition re-checks what the lagging
 * index showed: still pending, unexpired and available, not exhausted, and the lease the
 * index showed (or none) still the latest. A failed condition means another lease (or an
 * ack, a nack...) got there first: the lease moves on to the next candidates, within
 * `readBudget` Query calls. The writes of one batch of candidates go out together.
 *
 * An exhausted candidate (delivery_count >= maxDeliveries, its last lease run out) is made
 * dead by a conditional write instead, and not returned: dead letters are made lazily, when a
 * lease meets them (DESIGN §9).
 */
export async function leaseEvents(
  source: LeaseSource,
  query: LeaseQuery,
  now: number,
): Promise<LeasedEvent[]> {
  const { filters } = query;
  const equalityFilters = equalities([
    ['source', filters.source],
    ['event_type', filters.eventType],
    ['priority', filters.priority],
  ]);
  const input: QueryCommandInput = {
    TableName: source.tableName,
    IndexName: AVAILABLE_KEYS.name,
    KeyConditionExpression: 'available_pk = :tenant AND available_sk <= :upTo',
    ...filterExpression(['expires_at > :now'], equalityFilters, {
      ':tenant': query.tenantId,
      ':upTo': availableUpTo(now),
      ':now': now,
    }),
  };
  const taken: EventItem[] = [];
  let startKey: RawItem | undefined;
  let calls = 0;
  let failure: { reason: unknown } | undefined;
  do {
    const page = await source.client.send(
      new QueryCommand({
        ...input,
        // As for the inbox: at first just what is wanted; more once a read came short.
        Limit: equalityFilters.length > 0 || calls > 0 ? source.queryPageSize : query.limit - taken.length,
        ExclusiveStartKey: startKey,
      }),
    );
    calls += 1;
    startKey = page.LastEvaluatedKey;
    const candidates = (page.Items ?? []).map(readAvailableEntry);
    for (let next = 0; next < candidates.length && taken.length < query.limit; ) {
      // Never more writes at once than events still wanted: a batch cannot overshoot.
      const batch = candidates.slice(next, next + query.limit - taken.length);
      next += batch.length;
      // Settled, not all: one write failing (throttled, timed out) must not throw away the
      // leases its neighbours took, which would stay hidden and count a delivery for nothing.
      const results = await Promise.allSettled(batch.map((entry) => takeOne(source, entry, query, now)));
      for (const result of results) {
        if (result.status === 'rejected') failure ??= { reason: result.reason };
        else if (result.value !== undefined) taken.push(result.value);
      }
      if (failure) break;
    }
  } while (!failure && startKey && taken.length < query.limit && calls < source.readBudget);
  // Nothing taken: the failure is the answer (a 503 the client retries); else what was taken.
  if (failure && taken.length === 0) throw failure.reason;
  const events = await source.withPayloads(taken);
  return events.map(asLeased);
}

/** Leases one candidate; undefined when it was taken first, or made dead instead. */
async function takeOne(
  source: LeaseSource,
  entry: AvailableEntry,
  query: LeaseQuery,
  now: number,
): Promise<EventItem | undefined> {
  const { client, tableName } = source;
  const Key = { pk: entry.pk };
  if (entry.delivery_count >= query.maxDeliveries) {
    await makeDead(source, Key, query.maxDeliveries, now);
    return undefined;
  }
  const leaseId = randomUUID();
  const leasedUntil = now + query.visibilityTimeoutMs;
  const seen = entry.lease_id === undefined ? {} : { ':seen': entry.lease_id };
  try {
    const result = await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key,
        // available_at moves to the lease's end, and the index key with it: out of reach of
        // every lease until then.
        UpdateExpression:
          'SET lease_id = :lease, leased_until = :until, available_at = :until, available_sk = :sk, ' +
          'lease_started_at = :now, delivery_count = delivery_count + :one',
        ConditionExpression:
          '#status = :pending AND expires_at > :now AND available_at <= :now AND delivery_count < :max AND ' +
          (entry.lease_id === undefined ? 'attribute_not_exists(lease_id)' : 'lease_id = :seen'),
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':lease': leaseId,
          ':until': leasedUntil,
          ':sk': rescheduledSk(entry.available_sk, leasedUntil),
          ':now': now,
          ':one': 1,
          ':pending': 'pending',
          ':max': query.maxDeliveries,
          ...seen,
        },
        ReturnValues: 'ALL_NEW',
        // Free with the failure: tells a lost answer (below) without another read.
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    if (!result.Attributes) throw new Error(`UpdateItem with ALL_NEW returned no item for ${entry.pk}`);
    return readEventItem(result.Attributes);
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // Our own write landed on an attempt whose answer was lost, and the SDK's retry failed
    // the condition: the event is ours (the lease id is new to this call).
    if (error.Item?.lease_id?.S === leaseId) return readOwnLease(source, Key, leaseId);
    return undefined;
  }
}

/** Makes an exhausted event dead, unless it changed since the index showed it (then nothing). */
async function makeDead(
  source: LeaseSource,
  Key: RawItem,
  maxDeliveries: number,
  now: number,
): Promise<void> {
  try {
    await source.client.send(
      new UpdateCommand({
        TableName: source.tableName,
        Key,
        UpdateExpression: `SET #status = :dead REMOVE ${OUT_OF_PENDING_INDEXES}`,
        // Still exhausted and its last lease run out: a redeliver (count 0) or a lease under
        // another limit since the index read leaves it be.
        ConditionExpression:
          '#status = :pending AND expires_at > :now AND available_at <= :now AND delivery_count >= :max',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':dead': 'dead',
          ':pending': 'pending',
          ':now': now,
          ':max': maxDeliveries,
        },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

async function readOwnLease(
  source: LeaseSource,
  Key: RawItem,
  leaseId: string,
): Promise<EventItem | undefined> {
  const result = await source.client.send(
    new GetCommand({ TableName: source.tableName, Key, ConsistentRead: true }),
  );
  const item = result.Item && readEventItem(result.Item);
  // Acked or leased again since? Then it is no longer ours to hand out.
  return item?.status === 'pending' && item.lease_id === leaseId ? item : undefined;
}

function asLeased(event: StoredEvent): LeasedEvent {
  const { leaseId, leasedUntil } = event;
  if (leaseId === null || leasedUntil === null) throw new Error(`leased event ${event.eventId} has no lease`);
  return { ...event, leaseId, leasedUntil };
}
