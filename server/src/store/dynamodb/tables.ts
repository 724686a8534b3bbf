import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';

/**
 * The DynamoDB tables, in one place for the adapter, the `npm run tables` script and the
 * tests (CDK declares the same shapes on AWS).
 *
 * Events table, partition key `pk` (no sort key):
 * - event          `{tenant}#{event_id}`           the event; the tenant in the key means a
 *                                                   get can never cross tenants
 * - payload chunk  `{tenant}#{event_id}#chunk#{i}`  only for payloads too large to inline
 * - idempotency    `{tenant}#idem#{key}`            the key record, written in the same
 *                                                   transaction as the event
 * Inbox GSI `inbox` (sparse): `inbox_pk` = tenant, `inbox_sk` = `{created_at ISO}#{event_id}`,
 * present only while the event is pending (the ack's conditional update removes them).
 * It projects only what the inbox filters read, so index writes stay small whatever the
 * payload; pages fetch the events themselves from the table.
 *
 * Keys table, partition key `key_hash` (hex SHA-256 of the key's secret).
 */
export interface DynamoTableNames {
  events: string;
  keys: string;
}

export const INBOX_INDEX = 'inbox';

export function dynamoTableNames(stage: string): DynamoTableNames {
  return { events: `triggers-api-events-${stage}`, keys: `triggers-api-keys-${stage}` };
}

export function eventsTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'inbox_pk', AttributeType: 'S' },
      { AttributeName: 'inbox_sk', AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: INBOX_INDEX,
        KeySchema: [
          { AttributeName: 'inbox_pk', KeyType: 'HASH' },
          { AttributeName: 'inbox_sk', KeyType: 'RANGE' },
        ],
        Projection: {
          ProjectionType: 'INCLUDE',
          NonKeyAttributes: ['source', 'event_type', 'priority', 'expires_at'],
        },
      },
    ],
  };
}

export function keysTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'key_hash', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'key_hash', KeyType: 'HASH' }],
  };
}

/** The TTL attribute of both tables: epoch seconds after which DynamoDB may delete the item. */
export const TTL_ATTRIBUTE = 'ttl';

/**
 * Creates both tables with TTL on, for DynamoDB Local and tests (`npm run tables -- create`);
 * on AWS the CDK stack owns them. Tables that exist already are left as they are.
 */
export async function createTables(client: DynamoDBClient, names: DynamoTableNames): Promise<string[]> {
  const created: string[] = [];
  for (const definition of [eventsTableDefinition(names.events), keysTableDefinition(names.keys)]) {
    const TableName = definition.TableName as string;
    try {
      await client.send(new CreateTableCommand(definition));
      created.push(TableName);
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName });
    await client
      .send(
        new UpdateTimeToLiveCommand({
          TableName,
          TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
        }),
      )
      .catch((error: unknown) => {
        // Asking again for TTL that is already on is an error; the state is what we want.
        if (!/already enabled/i.test(String((error as Error).message))) throw error;
      });
  }
  return created;
}

export async function deleteTables(client: DynamoDBClient, names: DynamoTableNames): Promise<void> {
  for (const TableName of [names.events, names.keys]) {
    await client.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
  }
}
