import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../clock';
import type { CreateOutcome, CreateRequest, IdempotencyRecord } from '../event-store';
import { type RetryPolicy, retryDelay, sleep } from './backoff';
import type { BatchTarget } from './batch';
import { toEventItem } from './event-item';
import { readIdempotencyItem, toIdempotencyItem, toIdempotencyRecord } from './idempotency-item';
import { idempotencyPk } from './item-keys';
import { type PayloadSizes, packPayload } from './payload';
import { matchingSubscriptionIds } from './subscription-registry';
import { toDeliveryItem } from './webhook-item';

export interface EventTable {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock: Clock;
}

/**
 * A transaction that another one held an item of is retried: 8 times more at most, after a
 * short wait with full jitter (10 ms × 2^n at most), as DynamoDB advises for conflicts.
 */
export const TRANSACTION_CONFLICT_RETRY: RetryPolicy = {
  maxAttempts: 9,
  baseDelayMs: 10,
  maxDelayMs: Number.POSITIVE_INFINITY,
  sleep,
  random: Math.random,
};

/**
 * Writes a new event (EventStore.create).
 *
 * Idempotency: the key record and the event (and its payload chunks, if any) are written by
 * one `TransactWriteItems`, each Put conditional (`attribute_not_exists(pk)`, or an expired
 * key record). Either all items exist or none does, so a crash can never leave two events
 * for one key nor a key pointing at nothing, and there is no read before the write. It costs
 * twice the WCUs of the same Puts outside a transaction (2 per KB per item) and one round
 * trip; the alternative, a reservation record written first and the event after it, costs
 * two round trips and leaves a reservation to repair after a crash between them.
 *
 * Webhooks: the tenant's subscription registry is read first (one strongly consistent
 * GetItem, subscription-registry.ts), and one delivery record per active subscription the
 * event matches joins the same transaction, so a due delivery exists exactly when its event
 * does. The registry is not re-checked in the transaction: a ConditionCheck on it would make
 * every concurrent create of the tenant conflict with every other. So a subscription deleted
 * or disabled between the read and the write (milliseconds) may still get this event's
 * record; the deliverer drops a record whose subscription is gone or disabled.
 *
 * Creates without a key, without chunks and without deliveries are a single conditional Put.
 */
export async function createEvent(
  table: EventTable,
  { event, idempotency }: CreateRequest,
  payloadSizes: PayloadSizes,
  batches: BatchTarget,
): Promise<CreateOutcome> {
  const { client, tableName } = table;
  const { placement, chunks } = packPayload(event, payloadSizes);
  const item = toEventItem(event, placement);
  const created: CreateOutcome = {
    kind: 'created',
    event: {
      ...event,
      status: 'pending',
      acknowledgedAt: null,
      deliveryCount: item.delivery_count,
      leaseId: null,
      leasedUntil: null,
      availableAt: item.available_at,
      leaseStartedAt: null,
    },
  };
  for (let attempt = 1; ; attempt += 1) {
    // Read again on a retry: the tenant's subscriptions may have changed meanwhile.
    const deliveries = (await matchingSubscriptionIds(batches, event)).map((subscriptionId) =>
      toDeliveryItem(event, subscriptionId),
    );
    if (!idempotency && chunks.length === 0 && deliveries.length === 0) {
      try {
        await client.send(
          new PutCommand({
            TableName: tableName,
            Item: item,
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (error) {
        // The id is a fresh UUIDv7, so the item can only be there because this very write
        // landed on an attempt whose answer was lost (timeout) and the SDK retried it.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      return created;
    }
    const items = [
      ...(idempotency
        ? [
            {
              Put: {
                TableName: tableName,
                Item: toIdempotencyItem(event, idempotency),
                // Free, or held by a record past its 24 h (TTL deletes it lazily).
                ConditionExpression: 'attribute_not_exists(pk) OR expires_at <= :now',
                ExpressionAttributeValues: { ':now': table.clock() },
              },
            },
          ]
        : []),
      { Put: { TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
      ...chunks.map((chunk) => ({ Put: { TableName: tableName, Item: chunk } })),
      ...deliveries.map((delivery) => ({ Put: { TableName: tableName, Item: delivery } })),
    ];
    try {
      await client.send(new TransactWriteCommand({ TransactItems: items }));
      return created;
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (!reasons) throw error;
      const mayRetry = attempt < TRANSACTION_CONFLICT_RETRY.maxAttempts;
      if (idempotency && reasons[0] === 'ConditionalCheckFailed') {
        const record = await readKey(table, event.tenantId, idempotency.key);
        // The holder expired (or was deleted) between the two calls: claim the key again.
        if (!record && mayRetry) continue;
        if (!record) throw error;
        return record.requestHash === idempotency.requestHash
          ? { kind: 'replayed', record }
          : { kind: 'key_reused', record };
      }
      // Another transaction held one of the items: retry after a little jittered backoff.
      if (reasons.includes('TransactionConflict') && mayRetry) {
        await TRANSACTION_CONFLICT_RETRY.sleep(retryDelay(TRANSACTION_CONFLICT_RETRY, attempt));
        continue;
      }
      throw error;
    }
  }
}

/** The record holding an idempotency key, unless none does or it has expired. */
async function readKey(
  table: EventTable,
  tenantId: string,
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const result = await table.client.send(
    new GetCommand({
      TableName: table.tableName,
      Key: { pk: idempotencyPk(tenantId, key) },
      ConsistentRead: true,
    }),
  );
  if (!result.Item) return undefined;
  const item = readIdempotencyItem(result.Item);
  if (item.expires_at <= table.clock()) return undefined;
  return toIdempotencyRecord(item, key);
}

/** The reason codes of a cancelled transaction, one per item in order ('None' for the fine ones). */
export function cancellationReasons(error: unknown): string[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
}
