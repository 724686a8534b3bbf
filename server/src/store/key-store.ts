/** The API key storage port. Only a SHA-256 hash of each key's secret is ever stored. */

export type Scope = 'events:write' | 'events:read' | 'events:ack' | 'subscriptions:manage';
export const ALL_SCOPES: readonly Scope[] = [
  'events:write',
  'events:read',
  'events:ack',
  'subscriptions:manage',
];

/**
 * Tenant ids are joined with `#` into store keys (`{tenant}#{event_id}` in DynamoDB), so they
 * are restricted to characters that can never forge another tenant's key.
 */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ApiKeyRecord {
  keyId: string;
  /** Hex SHA-256 of the key's secret part. */
  secretHash: string;
  tenantId: string;
  /** The only source the key may send events of; null: any source. */
  source: string | null;
  scopes: Scope[];
  isActive: boolean;
  createdAt: number;
  revokedAt: number | null;
}

export interface KeyStore {
  create(record: ApiKeyRecord): Promise<void>;
  findByHash(secretHash: string): Promise<ApiKeyRecord | undefined>;
  list(tenantId?: string): Promise<ApiKeyRecord[]>;
  /** Marks the key inactive; false when no such key exists. */
  revoke(keyId: string, revokedAt: number): Promise<boolean>;
}
