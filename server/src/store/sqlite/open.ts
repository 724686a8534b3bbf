import type { Clock } from '../../clock';
import type { Config } from '../../config';
import { newCursorSecret } from '../cursor';
import { SqliteKeyStore } from './api-key-store';
import { startBackgroundCheckpoints } from './checkpointer';
import { getOrCreateSetting, openSqliteDatabase } from './database';
import { SqliteEventStore } from './event-store';
import { SqliteWebhookStore } from './webhook-store';

export type SqliteStoreConfig = Pick<Config, 'sqlitePath' | 'cursorSecret'>;

export interface SqliteOpenOptions {
  /**
   * For a long-running server on SQLite: WAL checkpoints on a worker thread (see
   * checkpointer.ts), told when one fails (it is retried; the data stays in the WAL).
   * Short-lived users (the keys CLI) leave SQLite to checkpoint on its own.
   */
  backgroundCheckpoints?: { onError: (message: string) => void };
}

/**
 * The SQLite file at `config.sqlitePath`, events and API keys in the same file. Its shape is
 * checked against OpenedStores where ../open-stores.ts returns it (importing that type here
 * would make an import circle).
 */
export function openSqliteStores(config: SqliteStoreConfig, clock: Clock, options: SqliteOpenOptions = {}) {
  const db = openSqliteDatabase(config.sqlitePath);
  const checkpoints =
    options.backgroundCheckpoints && config.sqlitePath !== ':memory:'
      ? startBackgroundCheckpoints(db, options.backgroundCheckpoints)
      : undefined;
  const events = new SqliteEventStore(db, { clock });
  const webhooks = new SqliteWebhookStore(db, { clock });
  return {
    events,
    webhooks,
    keys: new SqliteKeyStore(db),
    async cursorSecret() {
      return config.cursorSecret ?? getOrCreateSetting(db, 'cursor_secret', newCursorSecret);
    },
    location: config.sqlitePath,
    async close() {
      await events.close();
      await webhooks.close();
      await checkpoints?.close();
      db.close();
    },
  };
}
