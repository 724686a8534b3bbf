import {
  BatchGetCommand,
  BatchWriteCommand,
  type BatchWriteWriteRequest,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { type RetryPolicy, retryDelay, sleep } from './backoff';
import { UnprocessedItemsError } from './errors';
import type { RawItem } from './item-attributes';

// DynamoDB's own limits on one BatchGetItem and one BatchWriteItem.
const BATCH_GET_LIMIT = 100;
const BATCH_WRITE_LIMIT = 25;

/**
 * How unprocessed items are resent. A batch call may succeed with part of its request left
 * unprocessed (throttling, or an answer past 16 MB) and AWS asks for the rest to be resent
 * with backoff. Six sends leave room for a page of 100 large items split by the 16 MB limit
 * (three sends) and still stop within ~1.6 s of waits: past them the call fails as the store
 * being unavailable (503 with Retry-After), rather than pressing on a table that throttles or
 * holding the request past the Lambda's timeout.
 */
export const UNPROCESSED_RETRY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 50,
  maxDelayMs: 1_000,
  sleep,
  random: Math.random,
};

export interface BatchTarget {
  client: DynamoDBDocumentClient;
  tableName: string;
  retry: RetryPolicy;
}

/** The items at these keys that exist, read strongly consistent, in no particular order. */
export async function batchGetByPk(target: BatchTarget, pks: readonly string[]): Promise<RawItem[]> {
  const { client, tableName } = target;
  const items: RawItem[] = [];
  for (let start = 0; start < pks.length; start += BATCH_GET_LIMIT) {
    const keys: RawItem[] = pks.slice(start, start + BATCH_GET_LIMIT).map((pk) => ({ pk }));
    await sendUntilProcessed(target.retry, 'BatchGetItem', keys, async (Keys) => {
      const result = await client.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys, ConsistentRead: true } } }),
      );
      items.push(...(result.Responses?.[tableName] ?? []));
      return result.UnprocessedKeys?.[tableName]?.Keys ?? [];
    });
  }
  return items;
}

/** Deletes the items at these keys; a key with no item is not an error. */
export async function batchDeleteByPk(target: BatchTarget, pks: readonly string[]): Promise<void> {
  const { client, tableName } = target;
  for (let start = 0; start < pks.length; start += BATCH_WRITE_LIMIT) {
    const requests: BatchWriteWriteRequest[] = pks
      .slice(start, start + BATCH_WRITE_LIMIT)
      .map((pk) => ({ DeleteRequest: { Key: { pk } } }));
    await sendUntilProcessed(target.retry, 'BatchWriteItem', requests, async (RequestItems) => {
      const written = await client.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: RequestItems } }),
      );
      return written.UnprocessedItems?.[tableName] ?? [];
    });
  }
}

/** Sends `requests`, then what each send answers as unprocessed, within the retry policy. */
async function sendUntilProcessed<T>(
  retry: RetryPolicy,
  operation: string,
  requests: T[],
  send: (requests: T[]) => Promise<T[]>,
): Promise<void> {
  let unprocessed = requests;
  for (let attempt = 1; ; attempt += 1) {
    unprocessed = await send(unprocessed);
    if (unprocessed.length === 0) return;
    if (attempt >= retry.maxAttempts) {
      throw new UnprocessedItemsError(operation, unprocessed.length, attempt);
    }
    await retry.sleep(retryDelay(retry, attempt));
  }
}
