import { ALL_SCOPES, type ApiKeyRecord, type Scope } from '../key-store';
import {
  type RawItem,
  readBoolean,
  readListOf,
  readNumber,
  readOptional,
  readString,
} from './item-attributes';

/** An API key as stored in the keys table, keyed by the hash of its secret (see tables.ts). */
export interface ApiKeyItem {
  key_hash: string;
  key_id: string;
  tenant_id: string;
  /** Absent when the key may send events of any source. */
  source?: string;
  scopes: Scope[];
  is_active: boolean;
  created_at: number;
  /** Absent until the key is revoked. */
  revoked_at?: number;
}

export function toApiKeyItem(record: ApiKeyRecord): ApiKeyItem {
  return {
    key_hash: record.secretHash,
    key_id: record.keyId,
    tenant_id: record.tenantId,
    source: record.source ?? undefined,
    scopes: record.scopes,
    is_active: record.isActive,
    created_at: record.createdAt,
    revoked_at: record.revokedAt ?? undefined,
  };
}

export function toApiKeyRecord(item: ApiKeyItem): ApiKeyRecord {
  return {
    keyId: item.key_id,
    secretHash: item.key_hash,
    tenantId: item.tenant_id,
    source: item.source ?? null,
    scopes: item.scopes,
    isActive: item.is_active,
    createdAt: item.created_at,
    revokedAt: item.revoked_at ?? null,
  };
}

export function readApiKeyItem(item: RawItem): ApiKeyItem {
  return {
    key_hash: readString(item, 'key_hash'),
    key_id: readString(item, 'key_id'),
    tenant_id: readString(item, 'tenant_id'),
    source: readOptional(item, 'source', readString),
    scopes: readListOf(item, 'scopes', ALL_SCOPES),
    is_active: readBoolean(item, 'is_active'),
    created_at: readNumber(item, 'created_at'),
    revoked_at: readOptional(item, 'revoked_at', readNumber),
  };
}
