import type { ApiKeyRecord, KeyStore, Scope } from '../key-store';
import type { SqliteDatabase } from './database';
import { withSqliteFaults } from './errors';

interface KeyRow {
  key_id: string;
  secret_hash: string;
  tenant_id: string;
  source: string | null;
  scopes: string;
  is_active: number;
  created_at: number;
  revoked_at: number | null;
}

/**
 * API keys in the same SQLite file as the events. Writes are single statements committed
 * on their own: keys change rarely, often from another process (the keys CLI).
 */
export class SqliteKeyStore implements KeyStore {
  private readonly sql;

  constructor(db: SqliteDatabase) {
    this.sql = {
      insert: db.prepare(
        `INSERT INTO api_keys (key_id, secret_hash, tenant_id, source, scopes, is_active, created_at, revoked_at)
         VALUES (@key_id, @secret_hash, @tenant_id, @source, @scopes, @is_active, @created_at, @revoked_at)`,
      ),
      byHash: db.prepare('SELECT * FROM api_keys WHERE secret_hash = ?'),
      all: db.prepare('SELECT * FROM api_keys ORDER BY created_at, key_id'),
      byTenant: db.prepare('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at, key_id'),
      revoke: db.prepare(
        'UPDATE api_keys SET is_active = 0, revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?',
      ),
    };
  }

  create(record: ApiKeyRecord): Promise<void> {
    return withSqliteFaults(() => {
      this.sql.insert.run({
        key_id: record.keyId,
        secret_hash: record.secretHash,
        tenant_id: record.tenantId,
        source: record.source,
        scopes: JSON.stringify(record.scopes),
        is_active: record.isActive ? 1 : 0,
        created_at: record.createdAt,
        revoked_at: record.revokedAt,
      });
    });
  }

  findByHash(secretHash: string): Promise<ApiKeyRecord | undefined> {
    return withSqliteFaults(() => {
      const row = this.sql.byHash.get(secretHash) as KeyRow | undefined;
      return row ? toRecord(row) : undefined;
    });
  }

  list(tenantId?: string): Promise<ApiKeyRecord[]> {
    return withSqliteFaults(() => {
      const rows = (
        tenantId === undefined ? this.sql.all.all() : this.sql.byTenant.all(tenantId)
      ) as KeyRow[];
      return rows.map(toRecord);
    });
  }

  revoke(keyId: string, revokedAt: number): Promise<boolean> {
    return withSqliteFaults(() => this.sql.revoke.run(revokedAt, keyId).changes === 1);
  }
}

function toRecord(row: KeyRow): ApiKeyRecord {
  return {
    keyId: row.key_id,
    secretHash: row.secret_hash,
    tenantId: row.tenant_id,
    source: row.source,
    scopes: JSON.parse(row.scopes) as Scope[],
    isActive: row.is_active === 1,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}
