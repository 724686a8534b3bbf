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
  /** Told when a background WAL checkpoint fails (it is retried; the data stays in the WAL). */
  onCheckpointError?: (message: string) => void;
}

/** Opens the configured store (SQLite file or DynamoDB tables) for the server or the keys CLI. */
export function openStores(config: Config, clock: Clock, options: OpenStoresOptions = {}): OpenedStores {
  if (config.store === 'dynamodb') return openDynamoStores(config, clock);
  const db = openSqliteDatabase(config.sqlitePath);
  const checkpoints =
    config.sqlitePath === ':memory:'
      ? undefined
      : startBackgroundCheckpoints(db, { onError: options.onCheckpointError });
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
