import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ApiKeyRecord, KeyStore } from '../key-store';
import { type ApiKeyItem, readApiKeyItem, toApiKeyItem, toApiKeyRecord } from './api-key-item';
import { withDynamoFaults } from './errors';
import type { RawItem } from './item-attributes';

/**
 * API keys in their own table, keyed by the SHA-256 of the secret: authentication, the hot
 * path, is one GetItem. Listing and revoking by key id scan the table; they are rare admin
 * operations (the keys CLI) on a small table.
 */
export class DynamoKeyStore implements KeyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  create(record: ApiKeyRecord): Promise<void> {
    return withDynamoFaults(async () => {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toApiKeyItem(record),
          ConditionExpression: 'attribute_not_exists(key_hash)',
        }),
      );
    });
  }

  findByHash(secretHash: string): Promise<ApiKeyRecord | undefined> {
    return withDynamoFaults(async () => {
      const result = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { key_hash: secretHash }, ConsistentRead: true }),
      );
      return result.Item ? toApiKeyRecord(readApiKeyItem(result.Item)) : undefined;
    });
  }

  list(tenantId?: string): Promise<ApiKeyRecord[]> {
    return withDynamoFaults(async () => {
      const records = (await this.scan()).map(toApiKeyRecord);
      return records
        .filter((record) => tenantId === undefined || record.tenantId === tenantId)
        .sort((a, b) => a.createdAt - b.createdAt || a.keyId.localeCompare(b.keyId));
    });
  }

  revoke(keyId: string, revokedAt: number): Promise<boolean> {
    return withDynamoFaults(async () => {
      const item = (await this.scan()).find((candidate) => candidate.key_id === keyId);
      if (!item) return false;
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { key_hash: item.key_hash },
          // The first revocation time stays, as in the SQLite store.
          UpdateExpression: 'SET is_active = :false, revoked_at = if_not_exists(revoked_at, :at)',
          ExpressionAttributeValues: { ':false': false, ':at': revokedAt },
        }),
      );
      return true;
    });
  }

  private async scan(): Promise<ApiKeyItem[]> {
    const items: ApiKeyItem[] = [];
    let startKey: RawItem | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      items.push(...(page.Items ?? []).map(readApiKeyItem));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}
