import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteKeyStore } from '../../server/src/store/sqlite/api-key-store';
import { MIGRATIONS, openSqliteDatabase, SCHEMA_VERSION } from '../../server/src/store/sqlite/database';
import { SqliteEventStore } from '../../server/src/store/sqlite/event-store';
import { FakeClock } from '../helpers/fake-clock';
import { describeEventStore } from './conformance';

function makeSqliteStore() {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggers-store-'));
  const db = openSqliteDatabase(path.join(dir, 'store.db'));
  const clock = new FakeClock();
  const store = new SqliteEventStore(db, { clock: clock.read, sweepIntervalMs: 0, sweepBatchSize: 3 });
  return {
    db,
    dir,
    store,
    keys: new SqliteKeyStore(db),
    clock,
    async cleanup() {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeEventStore('SQLite', async () => makeSqliteStore());

describe('SqliteEventStore specifics', () => {
  it('opens with WAL, synchronous=FULL and the latest schema version', () => {
    const s = makeSqliteStore();
    try {
      expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(s.db.pragma('synchronous', { simple: true })).toBe(2);
      expect(s.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      void s.cleanup();
    }
  });

  it('sweeps expired events and idempotency records in small batches', async () => {
    const s = makeSqliteStore();
    try {
      for (let i = 0; i < 5; i += 1) {
        const now = s.clock.now;
        await s.store.create({
          event: {
            tenantId: 't',
            eventId: `0193a0b0-0000-7000-8000-00000000000${i}`,
            createdAt: now,
            source: 's',
            eventType: 'e',
            payloadJson: '{}',
            priority: 'normal',
            metadata: { priority: 'normal' },
            expiresAt: now + 1_000,
          },
          idempotency: { key: `k${i}`, requestHash: 'h', expiresAt: now + 500 },
        });
      }
      s.clock.advance(1_000);
      const counts = [
        await s.store.sweepExpired(),
        await s.store.sweepExpired(),
        await s.store.sweepExpired(),
      ];
      const left = s.db
        .prepare('SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM idempotency_keys) AS n')
        .get();
      // Batches of 3 rows per table per sweep: 3+3, then 2+2, then nothing.
      expect(counts).toEqual([6, 4, 0]);
      expect(left).toEqual({ n: 0 });
    } finally {
      await s.cleanup();
    }
  });

  const planOf = (s: ReturnType<typeof makeSqliteStore>, sql: string) =>
    (s.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>)
      .map((row) => row.detail)
      .join(' | ');
  // As the store writes them: the inbox keeps `available_at` out of index choice (`+`).
  const PENDING = "WHERE tenant_id = 't' AND status = 'pending' AND +available_at <= 0 AND expires_at > 0";
  const LEASE = "WHERE tenant_id = 't' AND status = 'pending' AND available_at <= 0 AND expires_at > 0";

  it.each([
    [
      'an inbox page',
      // Without an equality filter the store names the index: events_by_time would do as well.
      `INDEXED BY events_inbox ${PENDING} AND (created_at, event_id) > (1, 'x') ORDER BY created_at, event_id`,
      /events_inbox/,
    ],
    ['an inbox page by source', `${PENDING} AND source = 's' ORDER BY created_at, event_id`, /events_inbox/],
    [
      'an inbox page by type',
      `${PENDING} AND event_type = 'e' ORDER BY created_at, event_id`,
      /events_inbox/,
    ],
    [
      'an inbox page by priority',
      `${PENDING} AND priority = 'high' ORDER BY created_at, event_id`,
      /events_inbox/,
    ],
    ['a lease', `${LEASE} ORDER BY available_at, created_at, event_id`, /events_available/],
    [
      'a lease by source',
      `${LEASE} AND source = 's' ORDER BY available_at, created_at, event_id`,
      /events_available/,
    ],
    [
      'a newest-first page of every event',
      "WHERE tenant_id = 't' AND expires_at > 0 AND (created_at, event_id) < (1, 'x') ORDER BY created_at DESC, event_id DESC",
      /events_by_time/,
    ],
    [
      'a page of dead letters',
      "WHERE tenant_id = 't' AND expires_at > 0 AND status = 'dead' ORDER BY created_at DESC, event_id DESC",
      /events_dead/,
    ],
  ])('serves %s through its index, never a table scan nor a sort', (_name, query, index) => {
    const s = makeSqliteStore();
    try {
      const plan = planOf(s, `SELECT * FROM events ${query} LIMIT 51`);
      expect(plan).toMatch(index);
      expect(plan).not.toMatch(/SCAN events(?! USING)|USE TEMP B-TREE FOR ORDER BY/);
    } finally {
      void s.cleanup();
    }
  });
});

describe('SQLite schema migrations', () => {
  it('carries events written before leases existed into the lease schema, available since creation', async () => {
    // Prepare: a file at schema version 1 holding one pending event.
    const dir = mkdtempSync(path.join(tmpdir(), 'triggers-migrate-'));
    const file = path.join(dir, 'store.db');
    const old = new Database(file);
    old.exec(MIGRATIONS[0] as string);
    old.pragma('user_version = 1');
    const clock = new FakeClock();
    old
      .prepare(
        `INSERT INTO events (tenant_id, event_id, created_at, source, event_type, priority, payload, metadata, status, acknowledged_at, expires_at)
         VALUES ('t', 'e1', ?, 's', 'x', 'normal', '{}', '{"priority":"normal"}', 'pending', NULL, ?)`,
      )
      .run(clock.now - 1_000, clock.now + 86_400_000);
    old.close();
    // Act
    const db = openSqliteDatabase(file);
    const store = new SqliteEventStore(db, { clock: clock.read, sweepIntervalMs: 0 });
    try {
      // Assess
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(await store.get('t', 'e1')).toMatchObject({
        deliveryCount: 0,
        leaseId: null,
        leasedUntil: null,
        availableAt: clock.now - 1_000,
      });
      const leased = await store.lease({
        tenantId: 't',
        filters: {},
        limit: 10,
        visibilityTimeoutMs: 30_000,
        maxDeliveries: 5,
      });
      expect(leased.map((e) => e.eventId)).toEqual(['e1']);
    } finally {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the keys of a file made before sources were optional, and then stores keys without one (issue 15)', async () => {
    // Prepare: a file at schema version 3 holding a key whose source was required then
    const dir = mkdtempSync(path.join(tmpdir(), 'triggers-migrate-keys-'));
    const file = path.join(dir, 'store.db');
    const old = new Database(file);
    for (const migration of MIGRATIONS.slice(0, 3)) old.exec(migration);
    old.pragma('user_version = 3');
    old
      .prepare(
        `INSERT INTO api_keys (key_id, secret_hash, tenant_id, source, scopes, is_active, created_at, revoked_at)
         VALUES ('k1', 'aa', 'acme', 'shop', '["events:write"]', 1, 1, NULL)`,
      )
      .run();
    old.close();

    // Act
    const db = openSqliteDatabase(file);
    const keys = new SqliteKeyStore(db);
    try {
      await keys.create({
        keyId: 'k2',
        secretHash: 'bb',
        tenantId: 'acme',
        source: null,
        scopes: ['events:write'],
        isActive: true,
        createdAt: 2,
        revokedAt: null,
      });

      // Assess
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect((await keys.list('acme')).map((key) => [key.keyId, key.source])).toEqual([
        ['k1', 'shop'],
        ['k2', null],
      ]);
      expect(await keys.findByHash('aa')).toMatchObject({ keyId: 'k1', source: 'shop', isActive: true });
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
