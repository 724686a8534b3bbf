import type { Clock } from '../clock';
import type { Config } from '../config';
import { newCursorSecret } from './cursor';
import { openDynamoStores } from './dynamodb-stores';
import type { OpenedStores } from './opened-stores';
import { SqliteEventStore } from './sqlite';
import { getOrCreateSetting, openSqliteDatabase } from './sqlite-database';
import { SqliteKeyStore } from './sqlite-keys';

/** Opens the configured store (SQLite file or DynamoDB tables) for the server or the keys CLI. */
export function openStores(config: Config, clock: Clock): OpenedStores {
  if (config.store === 'dynamodb') return openDynamoStores(config, clock);
  const db = openSqliteDatabase(config.sqlitePath);
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
      db.close();
    },
  };
}
