import type { Clock } from '../clock';
import type { Config } from '../config';
import { newCursorSecret } from './cursor';
import { openDynamoStores } from './dynamodb-stores';
import type { OpenedStores } from './opened-stores';
import { SqliteEventStore } from './sqlite';
import { startBackgroundCheckpoints } from './sqlite-checkpointer';
import { getOrCreateSetting, openSqliteDatabase } from './sqlite-database';
import { SqliteKeyStore } from './sqlite-keys';

export interface OpenStoresOptions {
  /**
   * For a long-running server on SQLite: WAL checkpoints on a worker thread (see
   * sqlite-checkpointer.ts), told when one fails (it is retried; the data stays in the WAL).
   * Short-lived users (the keys CLI) leave SQLite to checkpoint on its own.
   */
  backgroundCheckpoints?: { onError: (message: string) => void };
}

/** Opens the configured store (SQLite file or DynamoDB tables) for the server or the keys CLI. */
export function openStores(config: Config, clock: Clock, options: OpenStoresOptions = {}): OpenedStores {
  if (config.store === 'dynamodb') return openDynamoStores(config, clock);
  const db = openSqliteDatabase(config.sqlitePath);
  const checkpoints =
    options.backgroundCheckpoints && config.sqlitePath !== ':memory:'
      ? startBackgroundCheckpoints(db, options.backgroundCheckpoints)
      : undefined;
  const events = new SqliteEventStore(db, { clock });
  return {
    events,
    keys: new SqliteKeyStore(db),
    async cursorSecret() {
      return config.cursorSecret ?? getOrCreateSetting(db, 'cursor_secret', newCursorSecret);
    },
    location: config.sqlitePath,
    async close() {
      await events.close();
      await checkpoints?.close();
      db.close();
    },
  };
}
