import { randomUUID } from 'node:crypto';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { DynamoEventStore } from '../../server/src/store/dynamodb/event-store';
import { createTables, deleteTables } from '../../server/src/store/dynamodb/tables';
import { DynamoWebhookStore } from '../../server/src/store/dynamodb/webhook-store';
import { FakeClock } from '../helpers/fake-clock';
import { describeWebhookStore } from './webhook-conformance';

const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
if (!endpoint)
  throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts DynamoDB Local');
const clients = createDynamoClients({ region: 'us-east-1', endpoint });

/** A fresh, empty pair of tables for each test, and both stores over the events table. */
async function makeDynamoStores() {
  const names = { events: `events-${randomUUID()}`, keys: `keys-${randomUUID()}` };
  await createTables(clients.base, names);
  const clock = new FakeClock();
  const options = { client: clients.documents, tableName: names.events, clock: clock.read };
  return {
    names,
    events: new DynamoEventStore(options),
    webhooks: new DynamoWebhookStore(options),
    clock,
    cleanup: () => deleteTables(clients.base, names),
  };
}

describeWebhookStore('DynamoDB', () => makeDynamoStores());
