import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { DynamoEventStore } from './dynamodb';
import { createDynamoClients } from './dynamodb-client';
import { DynamoKeyStore } from './dynamodb-keys';
import { dynamoTableNames } from './dynamodb-tables';
import type { EventStore } from './event-store';
import type { KeyStore } from './key-store';
import { SqliteEventStore } from './sqlite';
import { getOrCreateSetting, openSqliteDatabase } from './sqlite-database';
import { SqliteKeyStore } from './sqlite-keys';

export interface OpenedStores {
  events: EventStore;
  keys: KeyStore;
  /** The configured cursor secret, or where that is unset one that `ephemeralCursorSecret` says about. */
  cursorSecret: string;
  /** True when the secret was made up for this process: cursors will not survive a restart. */
  ephemeralCursorSecret: boolean;
  /** Where the data lives, for the startup log. */
  location: string;
  close(): Promise<void>;
}

/** Opens the configured store (SQLite file or DynamoDB tables) for the server or the keys CLI. */
export function openStores(config: Config, clock: Clock): OpenedStores {
  if (config.store === 'dynamodb') {
    const clients = createDynamoClients({ region: config.awsRegion, endpoint: config.dynamodbEndpoint });
    const tables = dynamoTableNames(config.stage);
    return {
      events: new DynamoEventStore({ client: clients.documents, tableName: tables.events, clock }),
      keys: new DynamoKeyStore(clients.documents, tables.keys),
      cursorSecret: config.cursorSecret ?? randomBytes(32).toString('base64url'),
      ephemeralCursorSecret: config.cursorSecret === undefined,
      location: `${config.dynamodbEndpoint ?? `DynamoDB ${config.awsRegion}`} (${tables.events}, ${tables.keys})`,
      async close() {
        clients.base.destroy();
      },
    };
  }
  const db = openSqliteDatabase(config.sqlitePath);
  const events = new SqliteEventStore(db, { clock });
  return {
    events,
    keys: new SqliteKeyStore(db),
    // Kept in the file, so that cursors survive restarts without a secret in the environment.
    cursorSecret:
      config.cursorSecret ??
      getOrCreateSetting(db, 'cursor_secret', () => randomBytes(32).toString('base64url')),
    ephemeralCursorSecret: false,
    location: config.sqlitePath,
    async close() {
      await events.close();
      db.close();
    },
  };
}
