import type { Clock } from '../clock';
import type { Config } from '../config';
import { newCursorSecret } from './cursor';
import { DynamoEventStore } from './dynamodb';
import { createDynamoClients } from './dynamodb-client';
import { withDynamoFaults } from './dynamodb-errors';
import { DynamoKeyStore } from './dynamodb-keys';
import { getOrCreateDynamoSetting } from './dynamodb-settings';
import { dynamoTableNames } from './dynamodb-tables';
import type { OpenedStores } from './opened-stores';

export type DynamoStoreConfig = Pick<Config, 'awsRegion' | 'dynamodbEndpoint' | 'stage' | 'cursorSecret'>;

/** The DynamoDB tables of `config.stage`. Kept apart from SQLite so the Lambda bundle has no native module. */
export function openDynamoStores(config: DynamoStoreConfig, clock: Clock): OpenedStores {
  const clients = createDynamoClients({ region: config.awsRegion, endpoint: config.dynamodbEndpoint });
  const tables = dynamoTableNames(config.stage);
  return {
    events: new DynamoEventStore({ client: clients.documents, tableName: tables.events, clock }),
    keys: new DynamoKeyStore(clients.documents, tables.keys),
    async cursorSecret() {
      if (config.cursorSecret !== undefined) return config.cursorSecret;
      return withDynamoFaults(() =>
        getOrCreateDynamoSetting(clients.documents, tables.events, 'cursor_secret', newCursorSecret),
      );
    },
    location: `${config.dynamodbEndpoint ?? `DynamoDB ${config.awsRegion}`} (${tables.events}, ${tables.keys})`,
    async close() {
      clients.base.destroy();
    },
  };
}
