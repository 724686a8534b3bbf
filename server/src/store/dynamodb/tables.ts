import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
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
 * Three GSIs of events, each partitioned by tenant and projecting only what its queries filter on, so
 * index writes stay small whatever the payload; the events themselves are read from the table
 * (strongly consistent) or returned by the conditional write that changed them:
 * - `inbox` (sparse): `inbox_pk` = tenant, `inbox_sk` = `{created_at ISO}#{event_id}`, present
 *   only while the event is pending (ack and dead REMOVE them, redeliver sets them again).
 *   `available_at` is projected so that GET /v1/inbox skips leased events in the index.
 * - `available` (sparse, the lease order): `available_pk` = tenant, `available_sk` =
 *   `{available_at ISO}#{created_at ISO}#{event_id}`, present only while pending. A lease
 *   queries `available_sk <= {now ISO}#\uffff`, so it never reads a leased event (its
 *   available_at is the lease's end, in the future). Projects what a lease decides on.
 * - `events` (GET /v1/events): `events_pk` = tenant, `events_sk` = `{created_at ISO}#{event_id}`,
 *   on every event item whatever its status (never on chunk or idempotency items).
 *
 * Webhooks (DESIGN §11, dynamodb/webhook-store.ts) keep their items in the same table:
 * - subscription   `{tenant}#sub#{subscription_id}`
 * - registry       `{tenant}#subscriptions`: one entry per subscription of the tenant (what a
 *                  create matches on), its count and a version; read strongly consistent
 * - delivery       `{tenant}#dlv#{subscription_id}#{event_id}`: written with its event
 * - attempt        `{tenant}#att#{subscription_id}#{event_id}#{attempt}`: the log, TTL'd
 * and two more GSIs:
 * - `due` (sparse, delivery records only): `due_pk` = `due#{0..DUE_SHARDS-1}` (a hash of the
 *   record's key), `due_sk` = `{next_attempt_at ISO}#{pk}`. The deliverer's claims read it up
 *   to now; a claim moves the key to the claim's end, out of reach, as a lease does.
 * - `subscription` (sparse): `subscription_pk` = `{tenant}#{subscription_id}`,
 *   `subscription_sk` = `att#{attempted_at ISO}#{event_id}#{attempt}` on log entries (the
 *   log, newest first) and `dlv#{event_id}` on delivery records (what deleting or disabling
 *   the subscription drops). Projects the log's fields, which no delivery record changes.
 *
 * The events table has a stream (NEW_IMAGE): the first attempt of a delivery is triggered by
 * its record's INSERT.
 *
 * Keys table, partition key `key_hash` (hex SHA-256 of the key's secret).
 */
export interface DynamoTableNames {
  events: string;
  keys: string;
}

export const INBOX_INDEX = 'inbox';
export const AVAILABLE_INDEX = 'available';
export const EVENTS_INDEX = 'events';
export const DUE_INDEX = 'due';
export const SUBSCRIPTION_INDEX = 'subscription';

/** A global secondary index and the item attributes that hold its keys. */
export interface IndexKeys {
  name: string;
  pk: string;
  sk: string;
}

export const INBOX_KEYS: IndexKeys = { name: INBOX_INDEX, pk: 'inbox_pk', sk: 'inbox_sk' };
export const AVAILABLE_KEYS: IndexKeys = { name: AVAILABLE_INDEX, pk: 'available_pk', sk: 'available_sk' };
export const EVENTS_KEYS: IndexKeys = { name: EVENTS_INDEX, pk: 'events_pk', sk: 'events_sk' };
export const DUE_KEYS: IndexKeys = { name: DUE_INDEX, pk: 'due_pk', sk: 'due_sk' };
export const SUBSCRIPTION_KEYS: IndexKeys = {
  name: SUBSCRIPTION_INDEX,
  pk: 'subscription_pk',
  sk: 'subscription_sk',
};

/** What each index projects besides the keys: the attributes its queries filter or decide on. */
const PROJECTED: ReadonlyArray<[IndexKeys, string[]]> = [
  [INBOX_KEYS, ['source', 'event_type', 'priority', 'expires_at', 'available_at']],
  [AVAILABLE_KEYS, ['source', 'event_type', 'priority', 'expires_at', 'lease_id', 'delivery_count']],
  [EVENTS_KEYS, ['status', 'source', 'event_type', 'expires_at']],
  [DUE_KEYS, ['subscription_id', 'claim_id', 'next_attempt_at']],
  [
    SUBSCRIPTION_KEYS,
    [
      'event_id',
      'attempt',
      'attempted_at',
      'status_code',
      'duration_ms',
      'error',
      'outcome',
      'retry_at',
      'expires_at',
    ],
  ],
];

export function dynamoTableNames(stage: string): DynamoTableNames {
  return { events: `triggers-api-events-${stage}`, keys: `triggers-api-keys-${stage}` };
}

export function eventsTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      ...PROJECTED.flatMap(([keys]) => indexKeyAttributes(keys)),
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: PROJECTED.map(([keys, attributes]) => indexDefinition(keys, attributes)),
    // New delivery records start their first attempt (DESIGN §11); NEW_IMAGE carries the record.
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
  };
}

function indexKeyAttributes(keys: IndexKeys): AttributeDefinition[] {
  return [
    { AttributeName: keys.pk, AttributeType: 'S' },
    { AttributeName: keys.sk, AttributeType: 'S' },
  ];
}

function indexDefinition(keys: IndexKeys, projected: string[]): GlobalSecondaryIndex {
  return {
    IndexName: keys.name,
    KeySchema: [
      { AttributeName: keys.pk, KeyType: 'HASH' },
      { AttributeName: keys.sk, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: projected },
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
