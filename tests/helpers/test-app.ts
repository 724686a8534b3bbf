import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Express } from 'express';
import pino, { type Logger } from 'pino';
import { type AppConfig, type AppDeps, createApp } from '../../server/src/app';
import { issueApiKey } from '../../server/src/auth/api-keys';
import { DEFAULT_LONG_POLL_INTERVAL_MS, DEFAULT_MAX_WAITING_PER_KEY } from '../../server/src/config';
import { LongPoll } from '../../server/src/long-poll';
import { loadSpec } from '../../server/src/spec';
import { DynamoKeyStore } from '../../server/src/store/dynamodb/api-key-store';
import { DynamoEventStore } from '../../server/src/store/dynamodb/event-store';
import { createTables, deleteTables } from '../../server/src/store/dynamodb/tables';
import { DynamoWebhookStore } from '../../server/src/store/dynamodb/webhook-store';
import type { EventStore } from '../../server/src/store/event-store';
import type { KeyStore, Scope } from '../../server/src/store/key-store';
import { SqliteKeyStore } from '../../server/src/store/sqlite/api-key-store';
import { openSqliteDatabase } from '../../server/src/store/sqlite/database';
import { SqliteEventStore } from '../../server/src/store/sqlite/event-store';
import { SqliteWebhookStore } from '../../server/src/store/sqlite/webhook-store';
import type { WebhookStore } from '../../server/src/store/webhook-store';
import { patientDynamoClients } from './dynamodb-clients';
import { FakeClock } from './fake-clock';

export const DEV_KEY = 'test-api-key-12345';
export const TEST_CURSOR_SECRET = 'test-cursor-secret-0123456789abcdef';

/** Which store the API tests run on: SQLite, or DynamoDB (the jest project `api-on-dynamodb`). */
export const TEST_STORE = process.env.TRIGGERS_TEST_STORE === 'dynamodb' ? 'dynamodb' : 'sqlite';

/** The contract every test app validates against: loaded once, shared by them all. */
export const TEST_SPEC = loadSpec();

export interface TestApp {
  app: Express;
  store: EventStore;
  keys: KeyStore;
  /** Subscriptions and delivery records, on the same store. */
  webhooks: WebhookStore;
  clock: FakeClock;
  /** The app's long-poll waiters, to see when a request is waiting. */
  longPoll: LongPoll;
  /** Aborting it is what local.ts does on SIGTERM: waiting requests answer at once. */
  shutdown: AbortController;
  /** The SQLite file (on DynamoDB runs, a file no store uses). */
  file: string;
  /** Stores a new key and returns it in clear. */
  /** A stored key; with `source`, it may send only events of that source (none: any). */
  createKey(options: { tenant: string; scopes?: Scope[]; source?: string }): Promise<string>;
  /** Events stored for the tenant, whatever their status (read behind the API's back). */
  countEvents(tenant?: string): Promise<number>;
  /** Takes the store away (closes the file, or drops the tables), as an outage would. */
  breakStore(): Promise<void>;
  close(): Promise<void>;
}

interface Backend {
  store: EventStore;
  keys: KeyStore;
  webhooks: WebhookStore;
  countEvents(tenant: string): Promise<number>;
  breakStore(): Promise<void>;
  close(): Promise<void>;
}

function sqliteBackend(file: string, clock: FakeClock): Backend {
  const db = openSqliteDatabase(file);
  const store = new SqliteEventStore(db, { clock: clock.read, sweepIntervalMs: 0 });
  const webhooks = new SqliteWebhookStore(db, { clock: clock.read });
  return {
    store,
    webhooks,
    keys: new SqliteKeyStore(db),
    async countEvents(tenant) {
      return (db.prepare('SELECT COUNT(*) AS n FROM events WHERE tenant_id = ?').get(tenant) as { n: number })
        .n;
    },
    async breakStore() {
      db.close();
    },
    async close() {
      await store.close();
      await webhooks.close();
      if (db.open) db.close();
    },
  };
}

async function dynamoBackend(clock: FakeClock): Promise<Backend> {
  const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
  if (!endpoint)
    throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts DynamoDB Local');
  const clients = patientDynamoClients(endpoint);
  const names = { events: `api-events-${randomUUID()}`, keys: `api-keys-${randomUUID()}` };
  await createTables(clients.base, names);
  const options = { client: clients.documents, tableName: names.events, clock: clock.read };
  return {
    store: new DynamoEventStore(options),
    keys: new DynamoKeyStore(clients.documents, names.keys),
    webhooks: new DynamoWebhookStore(options),
    async countEvents(tenant) {
      let count = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const page = await clients.documents.send(
          new ScanCommand({
            TableName: names.events,
            ConsistentRead: true,
            // Events only: not idempotency records nor payload chunks.
            FilterExpression:
              'tenant_id = :tenant AND attribute_exists(event_id) AND attribute_exists(#status)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':tenant': tenant },
            ExclusiveStartKey: start,
          }),
        );
        count += page.Count ?? 0;
        start = page.LastEvaluatedKey;
      } while (start);
      return count;
    },
    breakStore: () => deleteTables(clients.base, names),
    async close() {
      await deleteTables(clients.base, names);
      clients.base.destroy();
    },
  };
}

/**
 * The real app on a real store — a SQLite file in a fresh temporary folder, or fresh
 * DynamoDB tables — with a fake clock and, by default, a silent logger.
 */
export async function createTestApp(
  overrides: Partial<AppConfig> = {},
  logger: Logger = pino({ level: 'silent' }),
  options: Pick<AppDeps, 'resolver' | 'onEventsCreated'> = {},
): Promise<TestApp> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggers-test-'));
  const file = path.join(dir, 'triggers.db');
  const clock = new FakeClock();
  const backend = TEST_STORE === 'dynamodb' ? await dynamoBackend(clock) : sqliteBackend(file, clock);
  const longPoll = new LongPoll({
    clock: clock.read,
    pollIntervalMs: overrides.longPollIntervalMs ?? DEFAULT_LONG_POLL_INTERVAL_MS,
    maxWaitingPerKey: overrides.maxWaitingPerKey ?? DEFAULT_MAX_WAITING_PER_KEY,
  });
  const shutdown = new AbortController();
  const app = createApp({
    store: backend.store,
    keys: backend.keys,
    webhooks: backend.webhooks,
    ...options,
    clock: clock.read,
    spec: TEST_SPEC,
    logger,
    longPoll,
    shutdown: shutdown.signal,
    config: {
      authMode: 'local',
      cursorSecret: TEST_CURSOR_SECRET,
      retentionDays: 7,
      rateLimit: 0,
      rateBurst: 1,
      ...overrides,
    },
  });
  return {
    app,
    store: backend.store,
    keys: backend.keys,
    webhooks: backend.webhooks,
    clock,
    longPoll,
    shutdown,
    file,
    async createKey({ tenant, scopes = ['events:write', 'events:read', 'events:ack'], source }) {
      const issued = await issueApiKey(backend.keys, {
        tenantId: tenant,
        source: source ?? null,
        scopes,
        createdAt: clock.now,
      });
      return issued.apiKey;
    },
    countEvents: (tenant = 'local') => backend.countEvents(tenant),
    breakStore: () => backend.breakStore(),
    async close() {
      // A test that failed while a request waited must not leave it holding the store.
      shutdown.abort();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
