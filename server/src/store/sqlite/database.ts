import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Append
 * new ones, never edit a released one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    tenant_id       TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    source          TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    priority        TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    acknowledged_at INTEGER,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
  );
  -- Partial indexes over pending events only: an inbox page seeks to its position and
  -- reads forward (O(log n) whatever the table holds), and acked events leave the index.
  -- One per equality filter, so that a filtered page does not scan unrelated events.
  CREATE INDEX events_inbox ON events (tenant_id, created_at, event_id)
    WHERE status = 'pending';
  CREATE INDEX events_inbox_source ON events (tenant_id, source, created_at, event_id)
    WHERE status = 'pending';
  CREATE INDEX events_inbox_type ON events (tenant_id, event_type, created_at, event_id)
    WHERE status = 'pending';
  CREATE INDEX events_inbox_priority ON events (tenant_id, priority, created_at, event_id)
    WHERE status = 'pending';
  CREATE INDEX events_expiry ON events (expires_at);

  CREATE TABLE idempotency_keys (
    tenant_id        TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL,
    request_hash     TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    event_expires_at INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, idempotency_key)
  );
  CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

  CREATE TABLE api_keys (
    key_id      TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL UNIQUE,
    tenant_id   TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    scopes      TEXT    NOT NULL,
    is_active   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
  );
  CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

  -- Server secrets (the cursor HMAC key) generated on first start, so that cursors
  -- survive restarts without a secret in the environment.
  CREATE TABLE server_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // Leases (DESIGN §9) and the event list (§10).
  `
  ALTER TABLE events ADD COLUMN delivery_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE events ADD COLUMN lease_id TEXT;
  ALTER TABLE events ADD COLUMN leased_until INTEGER;
  ALTER TABLE events ADD COLUMN lease_started_at INTEGER;
  ALTER TABLE events ADD COLUMN available_at INTEGER NOT NULL DEFAULT 0;
  UPDATE events SET available_at = created_at;
  -- A lease seeks the first available events (available_at <= now) and reads forward:
  -- events leased or delayed sort after now, so a lease never walks over them.
  CREATE INDEX events_available ON events (tenant_id, available_at, created_at, event_id)
    WHERE status = 'pending';
  -- GET /v1/events, every status, both orders; one status at a time (the dead letters) reads
  -- only that status's partial index (pending ones use events_inbox). Partial rather than one
  -- index on (tenant_id, status, ...), which the planner would prefer for the inbox too.
  CREATE INDEX events_by_time ON events (tenant_id, created_at, event_id);
  CREATE INDEX events_acknowledged ON events (tenant_id, created_at, event_id)
    WHERE status = 'acknowledged';
  CREATE INDEX events_dead ON events (tenant_id, created_at, event_id) WHERE status = 'dead';
  `,
  // Subscriptions and webhook delivery (DESIGN §11).
  `
  CREATE TABLE subscriptions (
    tenant_id       TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL,
    target_url      TEXT    NOT NULL,
    event_types     TEXT    NOT NULL,
    sources         TEXT    NOT NULL,
    description     TEXT,
    status          TEXT    NOT NULL,
    disabled_reason TEXT,
    secret          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    failing_since   INTEGER,
    PRIMARY KEY (tenant_id, subscription_id)
  );
  CREATE INDEX subscriptions_by_time ON subscriptions (tenant_id, created_at, subscription_id);
  -- What an insert reads to find who wants the event: the tenant's active subscriptions.
  CREATE INDEX subscriptions_active ON subscriptions (tenant_id) WHERE status = 'active';

  -- One row per event still to be delivered to one subscription, written in the event's own
  -- transaction. next_attempt_at is when it is due, and while claimed when the claim runs
  -- out: a deliverer that dies leaves it due again, with no sweep.
  CREATE TABLE deliveries (
    tenant_id       TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claim_id        TEXT,
    PRIMARY KEY (tenant_id, subscription_id, event_id)
  );
  CREATE INDEX deliveries_due ON deliveries (next_attempt_at);

  CREATE TABLE delivery_attempts (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    attempt         INTEGER NOT NULL,
    attempted_at    INTEGER NOT NULL,
    status_code     INTEGER,
    duration_ms     INTEGER NOT NULL,
    error           TEXT,
    outcome         TEXT    NOT NULL,
    next_attempt_at INTEGER,
    expires_at      INTEGER NOT NULL
  );
  CREATE INDEX delivery_attempts_log ON delivery_attempts (tenant_id, subscription_id, attempted_at, seq);
  CREATE INDEX delivery_attempts_expiry ON delivery_attempts (expires_at);
  `,
  // A key's source becomes optional, and a restriction when given (issue 15). SQLite cannot
  // drop NOT NULL in place: the table is rebuilt, keys kept as they are.
  `
  CREATE TABLE api_keys_new (
    key_id      TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL UNIQUE,
    tenant_id   TEXT    NOT NULL,
    source      TEXT,
    scopes      TEXT    NOT NULL,
    is_active   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
  );
  INSERT INTO api_keys_new (key_id, secret_hash, tenant_id, source, scopes, is_active, created_at, revoked_at)
    SELECT key_id, secret_hash, tenant_id, source, scopes, is_active, created_at, revoked_at FROM api_keys;
  DROP TABLE api_keys;
  ALTER TABLE api_keys_new RENAME TO api_keys;
  CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating if needed) the SQLite file with the settings the durability promise rests
 * on: WAL, and `synchronous=FULL` so that a commit is fsynced before it returns. Several
 * processes may open the same file (the server and the keys CLI); `busy_timeout` makes them
 * wait for each other instead of failing.
 */
export function openSqliteDatabase(file: string): SqliteDatabase {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

function migrate(db: SqliteDatabase): void {
  // IMMEDIATE takes the write lock first, so two processes starting together migrate once.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `The SQLite file has schema version ${current}, newer than this server knows (${MIGRATIONS.length}). Upgrade the server.`,
      );
    }
    for (let version = current; version < MIGRATIONS.length; version += 1) {
      db.exec(MIGRATIONS[version] as string);
    }
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

/** Reads a server setting, creating it with `create()` the first time. */
export function getOrCreateSetting(db: SqliteDatabase, name: string, create: () => string): string {
  db.prepare('INSERT OR IGNORE INTO server_settings (name, value) VALUES (?, ?)').run(name, create());
  const row = db.prepare('SELECT value FROM server_settings WHERE name = ?').get(name) as
    | { value: string }
    | undefined;
  if (!row) throw new Error(`server setting ${name} could not be stored`);
  return row.value;
}
