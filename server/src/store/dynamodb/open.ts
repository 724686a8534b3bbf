import type { Clock } from '../../clock';
import type { Config } from '../../config';
import { newCursorSecret } from '../cursor';
import { DynamoKeyStore } from './api-key-store';
import { createDynamoClients } from './client';
import { withDynamoFaults } from './errors';
import { DynamoEventStore } from './event-store';
import { getOrCreateDynamoSetting } from './settings';
import { dynamoTableNames } from './tables';
import { DynamoWebhookStore } from './webhook-store';

export type DynamoStoreConfig = Pick<Config, 'awsRegion' | 'dynamodbEndpoint' | 'stage' | 'cursorSecret'>;

/**
 * The DynamoDB tables of `config.stage`. Kept apart from SQLite so the Lambda bundle has no
 * native module: nothing here imports ../open-stores.ts (which opens SQLite too); the shape
 * is checked against OpenedStores where that module, or the Lambda's boot, takes it.
 */
export function openDynamoStores(config: DynamoStoreConfig, clock: Clock) {
  const clients = createDynamoClients({ region: config.awsRegion, endpoint: config.dynamodbEndpoint });
  const tables = dynamoTableNames(config.stage);
  return {
    events: new DynamoEventStore({ client: clients.documents, tableName: tables.events, clock }),
    keys: new DynamoKeyStore(clients.documents, tables.keys),
    webhooks: new DynamoWebhookStore({ client: clients.documents, tableName: tables.events, clock }),
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
