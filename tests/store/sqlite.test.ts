import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteKeyStore } from '../../server/src/store/sqlite/api-key-store';
import { openSqliteDatabase, SCHEMA_VERSION } from '../../server/src/store/sqlite/database';
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

  it('serves an inbox page through the pending index, never a table scan', () => {
    const s = makeSqliteStore();
    try {
      const plans = [
        "SELECT * FROM events WHERE tenant_id = 't' AND status = 'pending' AND expires_at > 0 AND (created_at, event_id) > (1, 'x') ORDER BY created_at, event_id LIMIT 51",
        "SELECT * FROM events WHERE tenant_id = 't' AND status = 'pending' AND expires_at > 0 AND source = 's' ORDER BY created_at, event_id LIMIT 51",
        "SELECT * FROM events WHERE tenant_id = 't' AND status = 'pending' AND expires_at > 0 AND event_type = 'e' ORDER BY created_at, event_id LIMIT 51",
        "SELECT * FROM events WHERE tenant_id = 't' AND status = 'pending' AND expires_at > 0 AND priority = 'high' ORDER BY created_at, event_id LIMIT 51",
      ].map((sql) =>
        (s.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>)
          .map((row) => row.detail)
          .join(' | '),
      );
      for (const plan of plans) {
        expect(plan).toMatch(/USING INDEX events_inbox/);
        expect(plan).not.toMatch(/SCAN events(?! USING)|USE TEMP B-TREE FOR ORDER BY/);
      }
    } finally {
      void s.cleanup();
    }
  });
});
