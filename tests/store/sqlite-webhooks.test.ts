import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteDatabase } from '../../server/src/store/sqlite/database';
import { SqliteEventStore } from '../../server/src/store/sqlite/event-store';
import { SqliteWebhookStore } from '../../server/src/store/sqlite/webhook-store';
import { FakeClock } from '../helpers/fake-clock';
import { describeWebhookStore } from './webhook-conformance';

/** A fresh database file for each test, and both stores over it. */
async function makeSqliteStores() {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggers-webhooks-'));
  const db = openSqliteDatabase(path.join(dir, 'store.db'));
  const clock = new FakeClock();
  const events = new SqliteEventStore(db, { clock: clock.read, sweepIntervalMs: 0 });
  const webhooks = new SqliteWebhookStore(db, { clock: clock.read });
  return {
    events,
    webhooks,
    clock,
    async cleanup() {
      await events.close();
      await webhooks.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeWebhookStore('SQLite', makeSqliteStores);
