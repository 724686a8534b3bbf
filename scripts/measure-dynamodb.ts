/**
 * Measures the DynamoDB store per API operation: latency (median, p99), DynamoDB calls, and
 * the size of the items, from which docs/dynamodb.md derives the capacity units (DynamoDB
 * Local does not report consumed capacity faithfully). Starts its own DynamoDB Local
 * unless TRIGGERS_DYNAMODB_ENDPOINT is set.
 *
 *   npm run -s measure:dynamodb
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { v7 as uuidv7 } from 'uuid';
import { createDynamoClients } from '../server/src/store/dynamodb/client';
import { DynamoEventStore } from '../server/src/store/dynamodb/event-store';
import {
  AVAILABLE_INDEX,
  createTables,
  deleteTables,
  EVENTS_INDEX,
  eventsTableDefinition,
  INBOX_INDEX,
} from '../server/src/store/dynamodb/tables';
import type { NewEvent } from '../server/src/store/event-store';
import { startDynamoDbLocal } from '../tests/helpers/dynamodb-local';

const SAMPLES = 200;
const DAY = 86_400_000;

interface Sample {
  ms: number;
  calls: number;
}

/** DynamoDB's item size rule: attribute names plus values (strings and binaries by bytes, numbers ~ digits/2 + 1). */
function itemBytes(item: Record<string, unknown>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    total += Buffer.byteLength(name);
    if (typeof value === 'string') total += Buffer.byteLength(value);
    else if (typeof value === 'number') total += Math.ceil(String(value).replace(/[-.]/g, '').length / 2) + 1;
    else if (value instanceof Uint8Array) total += value.length;
    else if (typeof value === 'boolean') total += 1;
  }
  return total;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const local = process.env.TRIGGERS_DYNAMODB_ENDPOINT ? undefined : await startDynamoDbLocal();
  const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT ?? (local?.endpoint as string);
  const clients = createDynamoClients({ region: 'us-east-1', endpoint });
  const names = { events: `measure-events-${randomUUID()}`, keys: `measure-keys-${randomUUID()}` };
  await createTables(clients.base, names);

  // Counts the DynamoDB calls of each operation, failed ones (a cancelled transaction) too.
  let current: Sample = { ms: 0, calls: 0 };
  clients.documents.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } finally {
        current.calls += 1;
      }
    },
    { step: 'initialize', name: 'countCalls' },
  );

  let now = Date.now();
  const store = new DynamoEventStore({
    client: clients.documents,
    tableName: names.events,
    clock: () => now,
  });
  const payloadJson = JSON.stringify({ data: randomBytes(768).toString('base64') }); // ~1 KB
  const newEvent = (): NewEvent => {
    now += 1;
    return {
      tenantId: 'acme',
      eventId: uuidv7({ msecs: now }),
      createdAt: now,
      source: 'billing',
      eventType: 'order.created',
      payloadJson,
      priority: 'normal',
      metadata: { priority: 'normal', correlation_id: 'corr-12345' },
      expiresAt: now + 7 * DAY,
    };
  };

  const leaseOf = (limit: number) => ({ filters: {}, limit, visibilityTimeoutMs: 30_000, maxDeliveries: 5 });

  const results: Record<string, Sample[]> = {};
  const measure = async (name: string, op: () => Promise<unknown>) => {
    current = { ms: 0, calls: 0 };
    const started = process.hrtime.bigint();
    await op();
    current.ms = Number(process.hrtime.bigint() - started) / 1e6;
    results[name] = [...(results[name] ?? []), current];
  };

  const created: string[] = [];
  for (let i = 0; i < SAMPLES; i += 1) {
    const event = newEvent();
    created.push(event.eventId);
    await measure('ingest (1 KB payload)', () => store.create({ event }));
  }
  const keys: string[] = [];
  for (let i = 0; i < SAMPLES; i += 1) {
    const key = `key-${i}`;
    keys.push(key);
    await measure('ingest with idempotency key', () =>
      store.create({ event: newEvent(), idempotency: { key, requestHash: 'h', expiresAt: now + DAY } }),
    );
  }
  for (const key of keys) {
    await measure('idempotent replay', () =>
      store.create({ event: newEvent(), idempotency: { key, requestHash: 'h', expiresAt: now + DAY } }),
    );
  }
  for (let i = 0; i < 40; i += 1) {
    await measure('inbox page of 50', () => store.listPending({ tenantId: 'acme', filters: {}, limit: 50 }));
  }
  for (const id of created.slice(0, 150)) await measure('get', () => store.get('acme', id));
  for (const id of created.slice(0, 150)) await measure('ack', () => store.ack('acme', id, now));
  for (let i = 0; i < 40; i += 1) {
    await measure('list events page of 50', () =>
      store.listEvents({ tenantId: 'acme', filters: {}, order: 'desc', limit: 50 }),
    );
  }
  const leased: Array<{ eventId: string; leaseId: string }> = [];
  for (let i = 0; i < 20; i += 1) {
    await measure('lease of 10', async () => {
      leased.push(...(await store.lease({ ...leaseOf(10), tenantId: 'acme' })));
    });
  }
  // What a waiting long-poll repeats: a lease that finds nothing available.
  for (let i = 0; i < 50; i += 1) {
    await measure('lease, nothing available', () => store.lease({ ...leaseOf(10), tenantId: 'idle' }));
  }
  for (const { eventId, leaseId } of leased.slice(0, 50)) {
    await measure('extend', () => store.extend('acme', eventId, leaseId, 60_000));
  }
  for (const { eventId, leaseId } of leased.slice(50, 100)) {
    await measure('nack', () => store.nack('acme', eventId, leaseId, 0, 5));
  }
  for (const { eventId, leaseId } of leased.slice(100, 150)) {
    await measure('ack with lease', () => store.ack('acme', eventId, now, leaseId));
  }
  for (const { eventId } of leased.slice(100, 150)) {
    await measure('redeliver', () => store.redeliver('acme', eventId));
  }

  // The reads below are the script's own: counted into no operation.
  current = { ms: 0, calls: 0 };
  const sample = await clients.documents.send(
    new GetCommand({ TableName: names.events, Key: { pk: `acme#${created[160]}` } }),
  );
  const record = await clients.documents.send(
    new GetCommand({ TableName: names.events, Key: { pk: 'acme#idem#key-0' } }),
  );
  const leasedSample = await clients.documents.send(
    new GetCommand({ TableName: names.events, Key: { pk: `acme#${leased[0]?.eventId}` } }),
  );
  // A leased event: every lease attribute set, as large as an event item gets.
  const eventItem = leasedSample.Item ?? sample.Item ?? {};
  /** An index entry: the table key, the index keys and what the index projects. */
  const entryOf = (name: string) => {
    const index = eventsTableDefinition(names.events).GlobalSecondaryIndexes?.find(
      (i) => i.IndexName === name,
    );
    const kept = ['pk', ...(index?.KeySchema ?? []).map((key) => key.AttributeName)];
    kept.push(...(index?.Projection?.NonKeyAttributes ?? []));
    return Object.fromEntries(Object.entries(eventItem).filter(([attribute]) => kept.includes(attribute)));
  };

  console.log(
    `DynamoDB store on ${endpoint} (${local ? 'DynamoDB Local, started by this script' : 'given endpoint'})`,
  );
  console.log('| operation | samples | median ms | p99 ms | DynamoDB calls |');
  console.log('|---|---|---|---|---|');
  for (const [name, samples] of Object.entries(results)) {
    const avg = (pick: (s: Sample) => number) =>
      (samples.reduce((sum, s) => sum + pick(s), 0) / samples.length).toFixed(1);
    console.log(
      `| ${name} | ${samples.length} | ${percentile(
        samples.map((s) => s.ms),
        50,
      ).toFixed(1)} | ${percentile(
        samples.map((s) => s.ms),
        99,
      ).toFixed(1)} | ${avg((s) => s.calls)} |`,
    );
  }
  console.log(
    `item sizes (bytes): event with a 1 KB payload, leased ${itemBytes(eventItem)}; its entries: inbox ${itemBytes(
      entryOf(INBOX_INDEX),
    )}, available ${itemBytes(entryOf(AVAILABLE_INDEX))}, events ${itemBytes(entryOf(EVENTS_INDEX))}; ` +
      `idempotency record ${itemBytes(record.Item ?? {})}`,
  );

  await deleteTables(clients.base, names);
  clients.base.destroy();
  await local?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
