import {
  BatchGetCommand,
  BatchWriteCommand,
  type BatchWriteWriteRequest,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { RawItem } from './item-attributes';

// DynamoDB's own limits on one BatchGetItem and one BatchWriteItem.
const BATCH_GET_LIMIT = 100;
const BATCH_WRITE_LIMIT = 25;

export interface BatchTarget {
  client: DynamoDBDocumentClient;
  tableName: string;
}

/** The items at these keys that exist, read strongly consistent, in no particular order. */
export async function batchGetByPk(target: BatchTarget, pks: readonly string[]): Promise<RawItem[]> {
  const { client, tableName } = target;
  const items: RawItem[] = [];
  for (let start = 0; start < pks.length; start += BATCH_GET_LIMIT) {
    const keys: RawItem[] = pks.slice(start, start + BATCH_GET_LIMIT).map((pk) => ({ pk }));
    await sendUntilProcessed(keys, async (Keys) => {
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
    await sendUntilProcessed(requests, async (RequestItems) => {
      const written = await client.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: RequestItems } }),
      );
      return written.UnprocessedItems?.[tableName] ?? [];
    });
  }
}

/** Sends `requests`, then what each send answers as unprocessed, until none is left. */
async function sendUntilProcessed<T>(requests: T[], send: (requests: T[]) => Promise<T[]>): Promise<void> {
  let unprocessed = requests;
  while (unprocessed.length > 0) unprocessed = await send(unprocessed);
}
