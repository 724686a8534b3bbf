import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ApiKeyRecord, KeyStore, Scope } from '../key-store';
import { withDynamoFaults } from './errors';

type Item = Record<string, unknown>;

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
          Item: {
            key_hash: record.secretHash,
            key_id: record.keyId,
            tenant_id: record.tenantId,
            source: record.source,
            scopes: record.scopes,
            is_active: record.isActive,
            created_at: record.createdAt,
            revoked_at: record.revokedAt ?? undefined,
          },
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
      return result.Item ? toRecord(result.Item) : undefined;
    });
  }

  list(tenantId?: string): Promise<ApiKeyRecord[]> {
    return withDynamoFaults(async () => {
      const records = (await this.scan()).map(toRecord);
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

  private async scan(): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      items.push(...((page.Items ?? []) as Item[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}

function toRecord(item: Item): ApiKeyRecord {
  return {
    keyId: item.key_id as string,
    secretHash: item.key_hash as string,
    tenantId: item.tenant_id as string,
    source: item.source as string,
    scopes: item.scopes as Scope[],
    isActive: item.is_active as boolean,
    createdAt: item.created_at as number,
    revokedAt: (item.revoked_at as number | null | undefined) ?? null,
  };
}
