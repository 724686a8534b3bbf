import { randomBytes, randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../../server/src/errors';
import { DynamoKeyStore } from '../../server/src/store/dynamodb/api-key-store';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { DynamoEventStore } from '../../server/src/store/dynamodb/event-store';
import { createTables, deleteTables, INBOX_INDEX } from '../../server/src/store/dynamodb/tables';
import type { NewEvent } from '../../server/src/store/event-store';
import { FakeClock } from '../helpers/fake-clock';
import { describeEventStore } from './conformance';

const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
if (!endpoint)
  throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts DynamoDB Local');
const clients = createDynamoClients({ region: 'us-east-1', endpoint });

/** A fresh, empty pair of tables for each test. */
async function makeDynamoStore(options: { inlinePayloadBytes?: number; chunkBytes?: number } = {}) {
  const names = { events: `events-${randomUUID()}`, keys: `keys-${randomUUID()}` };
  await createTables(clients.base, names);
  const clock = new FakeClock();
  const store = new DynamoEventStore({
    client: clients.documents,
    tableName: names.events,
    clock: clock.read,
    ...options,
  });
  return {
    names,
    store,
    keys: new DynamoKeyStore(clients.documents, names.keys),
    clock,
    cleanup: () => deleteTables(clients.base, names),
  };
}

describeEventStore('DynamoDB', () => makeDynamoStore());

describe('DynamoEventStore specifics', () => {
  const newEvent = (clock: FakeClock, overrides: Partial<NewEvent> = {}): NewEvent => ({
    tenantId: 'tenant-a',
    eventId: randomUUID(),
    createdAt: clock.now,
    source: 's',
    eventType: 'e',
    payloadJson: '{"n":1}',
    priority: 'normal',
    metadata: { priority: 'normal' },
    expiresAt: clock.now + 86_400_000,
    ...overrides,
  });

  it('splits a payload too large to inline into chunks written with the event, and reads it back whole', async () => {
    const s = await makeDynamoStore({ inlinePayloadBytes: 50_000, chunkBytes: 40_000 });
    try {
      const payloadJson = JSON.stringify({ data: randomBytes(200_000).toString('base64') });
      const event = newEvent(s.clock, { payloadJson });
      await s.store.create({
        event,
        idempotency: { key: 'k', requestHash: 'h', expiresAt: s.clock.now + 1000 },
      });

      const got = await s.store.get('tenant-a', event.eventId);
      const page = await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 10 });

      expect(got?.payloadJson).toBe(payloadJson);
      expect(page.events[0]?.payloadJson).toBe(payloadJson);
      await s.store.delete('tenant-a', event.eventId);
      expect(await s.store.get('tenant-a', event.eventId)).toBeUndefined();
    } finally {
      await s.cleanup();
    }
  });

  it('keeps a pending event in the sparse inbox index and removes it there on ack', async () => {
    const s = await makeDynamoStore();
    try {
      const event = newEvent(s.clock);
      await s.store.create({ event });
      const indexed = () =>
        clients.documents
          .send(
            new QueryCommand({
              TableName: s.names.events,
              IndexName: INBOX_INDEX,
              KeyConditionExpression: 'inbox_pk = :t',
              ExpressionAttributeValues: { ':t': 'tenant-a' },
            }),
          )
          .then((result) => (result.Items ?? []).map((item) => item.pk));

      const before = await indexed();
      await s.store.ack('tenant-a', event.eventId, s.clock.now);
      const after = await indexed();

      expect(before).toEqual([`tenant-a#${event.eventId}`]);
      expect(after).toEqual([]);
    } finally {
      await s.cleanup();
    }
  });

  it('never lists an event the lagging index still shows as pending after it was acked', async () => {
    // DynamoDB Local updates its index at once; a real GSI lags. This writes what such a
    // lagging index shows: an acknowledged event that still carries its inbox keys.
    const s = await makeDynamoStore();
    try {
      const pending = newEvent(s.clock);
      await s.store.create({ event: pending });
      const acked = newEvent(s.clock);
      await s.store.create({ event: acked });
      const item = (
        await clients.documents.send(
          new QueryCommand({
            TableName: s.names.events,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': `tenant-a#${acked.eventId}` },
          }),
        )
      ).Items?.[0];
      await clients.documents.send(
        new PutCommand({
          TableName: s.names.events,
          Item: { ...item, status: 'acknowledged', acknowledged_at: s.clock.now },
        }),
      );

      const page = await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 1 });

      expect(page.events.map((e) => e.eventId)).toEqual([pending.eventId]);
      expect(page.hasMore).toBe(false);
    } finally {
      await s.cleanup();
    }
  });

  it('retries throttling with backoff, then answers UnavailableError with Retry-After', async () => {
    // Throttling cannot be produced on DynamoDB Local: a fake fault, injected below the
    // SDK's retry strategy so that its real backoff runs.
    const s = await makeDynamoStore();
    const throttled = createDynamoClients({ region: 'us-east-1', endpoint: endpoint as string });
    let failuresLeft = 2;
    let attempts = 0;
    throttled.base.middlewareStack.add(
      (next) => async (args) => {
        attempts += 1;
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
            name: 'ProvisionedThroughputExceededException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
            $retryable: { throttling: true },
          });
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'fakeThrottling' },
    );
    try {
      const store = new DynamoEventStore({
        client: throttled.documents,
        tableName: s.names.events,
        clock: s.clock.read,
      });
      const event = newEvent(s.clock);

      await store.create({ event });
      const afterRetries = attempts;
      failuresLeft = 100;
      const failure = await store.get('tenant-a', event.eventId).catch((error: unknown) => error);

      expect(afterRetries).toBe(3);
      expect(failure).toBeInstanceOf(UnavailableError);
      expect((failure as UnavailableError).headers['Retry-After']).toBe('1');
      expect((failure as UnavailableError).message).not.toMatch(/Throughput|Exception/);
    } finally {
      throttled.base.destroy();
      await s.cleanup();
    }
  });

  it('treats a create or an ack that landed but whose answer was lost as done, not as a conflict', async () => {
    // A lost answer (the write applied, the attempt timed out) cannot be produced on demand:
    // a fake fault, injected below the SDK's retry strategy after the real write went through.
    const s = await makeDynamoStore();
    const lossy = createDynamoClients({ region: 'us-east-1', endpoint: endpoint as string });
    let loseNextAnswer = false;
    let lost = 0;
    lossy.base.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        if (loseNextAnswer) {
          loseNextAnswer = false;
          lost += 1;
          throw Object.assign(new Error('Request timed out'), { name: 'TimeoutError', $metadata: {} });
        }
        return result;
      },
      { step: 'finalizeRequest', name: 'fakeLostAnswer' },
    );
    try {
      const store = new DynamoEventStore({
        client: lossy.documents,
        tableName: s.names.events,
        clock: s.clock.read,
      });
      const event = newEvent(s.clock);

      // With a key, the create is a transaction: the SDK gives it a ClientRequestToken of its
      // own, which makes its retry answer as done too.
      const keyed = newEvent(s.clock);

      loseNextAnswer = true;
      const created = await store.create({ event });
      loseNextAnswer = true;
      const createdWithKey = await store.create({
        event: keyed,
        idempotency: { key: 'k', requestHash: 'h', expiresAt: s.clock.now + 1000 },
      });
      loseNextAnswer = true;
      const acked = await store.ack('tenant-a', event.eventId, s.clock.now);
      const again = await store.ack('tenant-a', event.eventId, s.clock.now);

      expect(lost).toBe(3);
      expect(created.kind).toBe('created');
      expect(createdWithKey.kind).toBe('created');
      expect(acked).toEqual({ kind: 'acked', acknowledgedAt: s.clock.now });
      expect(again).toMatchObject({ kind: 'not_pending', status: 'acknowledged' });
    } finally {
      lossy.base.destroy();
      await s.cleanup();
    }
  });

  it('answers UnavailableError, never an AWS error, when the endpoint does not answer', async () => {
    const dead = createDynamoClients({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
    const clock = new FakeClock();
    const store = new DynamoEventStore({ client: dead.documents, tableName: 'nowhere', clock: clock.read });

    await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
    await expect(store.create({ event: newEvent(clock) })).rejects.toBeInstanceOf(UnavailableError);
  });
});
