import { randomBytes, randomUUID } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../../server/src/errors';
import { DynamoKeyStore } from '../../server/src/store/dynamodb/api-key-store';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { DynamoEventStore, type DynamoEventStoreOptions } from '../../server/src/store/dynamodb/event-store';
import {
  AVAILABLE_INDEX,
  createTables,
  deleteTables,
  EVENTS_INDEX,
  INBOX_INDEX,
} from '../../server/src/store/dynamodb/tables';
import type { NewEvent } from '../../server/src/store/event-store';
import { patientDynamoClients } from '../helpers/dynamodb-clients';
import { FakeClock } from '../helpers/fake-clock';
import { describeEventStore } from './conformance';

const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
if (!endpoint)
  throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts DynamoDB Local');
const clients = patientDynamoClients(endpoint);

/** A fresh, empty pair of tables for each test. */
async function makeDynamoStore(
  options: Pick<
    DynamoEventStoreOptions,
    'inlinePayloadBytes' | 'chunkBytes' | 'pendingScanPages' | 'pendingScanPageSize'
  > = {},
) {
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

/**
 * A store on its own client whose next answer (of `onlyCommand`, when given) is lost after
 * the real call went through: a fake fault, injected below the SDK's retry strategy, since
 * a lost answer cannot be produced on demand.
 */
function lossyStore(s: { names: { events: string }; clock: FakeClock }, onlyCommand?: string | RegExp) {
  const clients = createDynamoClients({ region: 'us-east-1', endpoint: endpoint as string });
  let loseNext = false;
  let lost = 0;
  clients.base.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const name = context.commandName ?? '';
      const chosen =
        onlyCommand === undefined ||
        (typeof onlyCommand === 'string' ? name === onlyCommand : onlyCommand.test(name));
      if (loseNext && chosen) {
        loseNext = false;
        lost += 1;
        throw Object.assign(new Error('Request timed out'), { name: 'TimeoutError', $metadata: {} });
      }
      return result;
    },
    { step: 'finalizeRequest', name: 'fakeLostAnswer' },
  );
  return {
    store: new DynamoEventStore({
      client: clients.documents,
      tableName: s.names.events,
      clock: s.clock.read,
    }),
    loseNextAnswer: () => {
      loseNext = true;
    },
    lost: () => lost,
    destroy: () => clients.base.destroy(),
  };
}

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

  it('counts pending events with at most pendingScanPages Scan calls, and says when it stopped short', async () => {
    // Prepare: 5 pending events, read 2 index entries per call.
    const bounded = await makeDynamoStore({ pendingScanPages: 2, pendingScanPageSize: 2 });
    const enough = await makeDynamoStore({ pendingScanPages: 3, pendingScanPageSize: 2 });
    try {
      for (const s of [bounded, enough]) {
        for (let i = 0; i < 5; i += 1) await s.store.create({ event: newEvent(s.clock) });
      }

      // Act
      const cut = await bounded.store.countPending(10);
      const whole = await enough.store.countPending(10);

      // Assess: two calls read 4 of the 5 entries; three read them all.
      expect(cut).toEqual({ top: [{ tenantId: 'tenant-a', pending: 4 }], total: 4, complete: false });
      expect(whole).toEqual({ top: [{ tenantId: 'tenant-a', pending: 5 }], total: 5, complete: true });
    } finally {
      await bounded.cleanup();
      await enough.cleanup();
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

      // The create's read of the tenant's subscriptions: three sends (two throttled); its Put: one.
      expect(afterRetries).toBe(4);
      expect(failure).toBeInstanceOf(UnavailableError);
      expect((failure as UnavailableError).headers['Retry-After']).toBe('1');
      expect((failure as UnavailableError).message).not.toMatch(/Throughput|Exception/);
    } finally {
      throttled.base.destroy();
      await s.cleanup();
    }
  });

  it('treats a create or an ack that landed but whose answer was lost as done, not as a conflict', async () => {
    // A fake fault, named as such: see lossyStore.
    const s = await makeDynamoStore();
    // A create reads the tenant's subscriptions first: lose the answer of the write.
    const lossy = lossyStore(s, /^(PutItem|TransactWriteItems|UpdateItem)Command$/);
    try {
      const { store } = lossy;
      const event = newEvent(s.clock);

      // With a key, the create is a transaction: the SDK gives it a ClientRequestToken of its
      // own, which makes its retry answer as done too.
      const keyed = newEvent(s.clock);

      lossy.loseNextAnswer();
      const created = await store.create({ event });
      lossy.loseNextAnswer();
      const createdWithKey = await store.create({
        event: keyed,
        idempotency: { key: 'k', requestHash: 'h', expiresAt: s.clock.now + 1000 },
      });
      lossy.loseNextAnswer();
      const acked = await store.ack('tenant-a', event.eventId, s.clock.now);
      const again = await store.ack('tenant-a', event.eventId, s.clock.now);

      expect(lossy.lost()).toBe(3);
      expect(created.kind).toBe('created');
      expect(createdWithKey.kind).toBe('created');
      expect(acked).toEqual({ kind: 'acked', acknowledgedAt: s.clock.now });
      expect(again).toMatchObject({ kind: 'not_pending', status: 'acknowledged' });
    } finally {
      lossy.destroy();
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

describe('DynamoEventStore leases and the event list', () => {
  const SECOND = 1_000;

  /** One DynamoDB call as the store made it: the document client's command, input and output. */
  interface Call {
    command: string;
    indexName?: string;
    /** Items the call evaluated (a Query's ScannedCount), before its filter. */
    scanned?: number;
    /** Keys a BatchGetItem asked for. */
    keysAsked?: number;
  }

  /** A store on its own client that records every call it makes. */
  async function recordingStore(options: { inlinePayloadBytes?: number; chunkBytes?: number } = {}) {
    const s = await makeDynamoStore(options);
    const recorded = createDynamoClients({ region: 'us-east-1', endpoint: endpoint as string });
    const calls: Call[] = [];
    recorded.documents.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const { input } = args;
        const { output } = result;
        const requests: unknown[] = 'RequestItems' in input ? Object.values(input.RequestItems ?? {}) : [];
        calls.push({
          command: context.commandName ?? '',
          indexName: 'IndexName' in input ? input.IndexName : undefined,
          scanned: 'ScannedCount' in output ? output.ScannedCount : undefined,
          keysAsked: requests.reduce<number>(
            (sum, request) =>
              sum +
              (typeof request === 'object' && request && 'Keys' in request && Array.isArray(request.Keys)
                ? request.Keys.length
                : 0),
            0,
          ),
        });
        return result;
      },
      { step: 'initialize', name: 'recordCalls' },
    );
    const store = new DynamoEventStore({
      client: recorded.documents,
      tableName: s.names.events,
      clock: s.clock.read,
      ...options,
    });
    return {
      ...s,
      store,
      calls,
      /** The calls made by `act`, only. */
      async callsOf(act: () => Promise<unknown>): Promise<Call[]> {
        const from = calls.length;
        await act();
        return calls.slice(from);
      },
      async cleanup() {
        recorded.base.destroy();
        await s.cleanup();
      },
    };
  }

  const seed = async (
    s: { store: DynamoEventStore; clock: FakeClock },
    count: number,
    payloadJson = '{"n":1}',
  ) => {
    const events: NewEvent[] = [];
    for (let i = 0; i < count; i += 1) {
      const event: NewEvent = {
        tenantId: 'tenant-a',
        eventId: randomUUID(),
        createdAt: s.clock.now,
        source: 's',
        eventType: 'e',
        payloadJson,
        priority: 'normal',
        metadata: { priority: 'normal' },
        expiresAt: s.clock.now + 86_400_000,
      };
      await s.store.create({ event });
      events.push(event);
      s.clock.advance(1);
    }
    return events;
  };
  const leaseQuery = (limit: number, visibilityTimeoutMs = 30 * SECOND) => ({
    tenantId: 'tenant-a',
    filters: {},
    limit,
    visibilityTimeoutMs,
    maxDeliveries: 5,
  });
  const rawItem = async (tableName: string, eventId: string) =>
    (
      await clients.documents.send(
        new GetCommand({ TableName: tableName, Key: { pk: `tenant-a#${eventId}` }, ConsistentRead: true }),
      )
    ).Item ?? {};

  it('never reads a leased event when leasing: the available index range ends at now', async () => {
    // Prepare
    const s = await recordingStore();
    try {
      await seed(s, 5);
      await s.store.lease(leaseQuery(3));
      // Act
      const second = await s.callsOf(() => s.store.lease(leaseQuery(10)));
      const idle = await s.callsOf(() => s.store.lease(leaseQuery(10)));
      // Assess: the second lease evaluated the 2 available entries only, never the 3 leased.
      const queries = second.filter((call) => call.command === 'QueryCommand');
      expect(queries.every((call) => call.indexName === AVAILABLE_INDEX)).toBe(true);
      expect(queries.reduce((sum, call) => sum + (call.scanned ?? 0), 0)).toBe(2);
      expect(second.filter((call) => call.command === 'UpdateItemCommand')).toHaveLength(2);
      // Nothing available (what a waiting long-poll repeats): one Query that reads nothing.
      expect(idle).toEqual([
        { command: 'QueryCommand', indexName: AVAILABLE_INDEX, scanned: 0, keysAsked: 0 },
      ]);
    } finally {
      await s.cleanup();
    }
  });

  it('skips leased events in the inbox index read, never reading them from the table', async () => {
    const s = await recordingStore();
    try {
      const events = await seed(s, 5);
      await s.store.lease(leaseQuery(4));

      const calls = await s.callsOf(() =>
        s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 10 }),
      );
      const page = await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 10 });

      expect(page.events.map((e) => e.eventId)).toEqual([events[4]?.eventId]);
      const batchGets = calls.filter((call) => call.command === 'BatchGetItemCommand');
      expect(batchGets.reduce((sum, call) => sum + (call.keysAsked ?? 0), 0)).toBe(1);
    } finally {
      await s.cleanup();
    }
  });

  it('lists events through the events index in both orders, never a Scan', async () => {
    const s = await recordingStore();
    try {
      const events = await seed(s, 6);
      await s.store.ack('tenant-a', events[1]?.eventId as string, s.clock.now);

      const calls = await s.callsOf(async () => {
        for (const order of ['asc', 'desc'] as const) {
          await s.store.listEvents({ tenantId: 'tenant-a', filters: {}, order, limit: 3 });
          await s.store.listEvents({
            tenantId: 'tenant-a',
            filters: { status: 'acknowledged' },
            order,
            limit: 3,
          });
        }
      });

      expect(new Set(calls.map((call) => call.command))).toEqual(
        new Set(['QueryCommand', 'BatchGetItemCommand']),
      );
      for (const call of calls.filter((c) => c.command === 'QueryCommand')) {
        expect(call.indexName).toBe(EVENTS_INDEX);
      }
    } finally {
      await s.cleanup();
    }
  });

  it('keeps the index keys in step: available key at the lease end, pending indexes left on ack and dead', async () => {
    const s = await makeDynamoStore();
    try {
      const [event] = await seed(s, 1);
      const id = event?.eventId as string;
      const iso = (ms: number) => new Date(ms).toISOString();
      const [leased] = await s.store.lease(leaseQuery(1));
      const whileLeased = await rawItem(s.names.events, id);
      await s.store.ack('tenant-a', id, s.clock.now, leased?.leaseId);
      const acked = await rawItem(s.names.events, id);
      s.clock.advance(SECOND);
      await s.store.redeliver('tenant-a', id);
      const redelivered = await rawItem(s.names.events, id);
      const [last] = await s.store.lease({ ...leaseQuery(1), maxDeliveries: 1 });
      await s.store.nack('tenant-a', id, last?.leaseId as string, 0, 1);
      const dead = await rawItem(s.names.events, id);

      const created = `${iso(event?.createdAt as number)}#${id}`;
      expect(whileLeased).toMatchObject({
        available_sk: `${iso(leased?.leasedUntil as number)}#${created}`,
        inbox_sk: created,
        events_sk: created,
      });
      for (const item of [acked, dead]) {
        expect(item).not.toHaveProperty('inbox_pk');
        expect(item).not.toHaveProperty('available_sk');
        expect(item).toMatchObject({ events_pk: 'tenant-a', events_sk: created });
      }
      expect(dead.status).toBe('dead');
      expect(redelivered).toMatchObject({
        status: 'pending',
        inbox_pk: 'tenant-a',
        inbox_sk: created,
        available_pk: 'tenant-a',
        available_sk: `${iso(s.clock.now)}#${created}`,
        delivery_count: 0,
      });
      expect(redelivered).not.toHaveProperty('lease_id');
    } finally {
      await s.cleanup();
    }
  });

  it('leases a chunked payload whole, and never lists chunk or idempotency items as events', async () => {
    const s = await makeDynamoStore({ inlinePayloadBytes: 50_000, chunkBytes: 40_000 });
    try {
      const payloadJson = JSON.stringify({ data: randomBytes(150_000).toString('base64') });
      const event: NewEvent = {
        tenantId: 'tenant-a',
        eventId: randomUUID(),
        createdAt: s.clock.now,
        source: 's',
        eventType: 'e',
        payloadJson,
        priority: 'normal',
        metadata: { priority: 'normal' },
        expiresAt: s.clock.now + 86_400_000,
      };
      await s.store.create({
        event,
        idempotency: { key: 'k', requestHash: 'h', expiresAt: s.clock.now + 1000 },
      });

      const [leased] = await s.store.lease(leaseQuery(5));
      const listed = await s.store.listEvents({
        tenantId: 'tenant-a',
        filters: {},
        order: 'desc',
        limit: 10,
      });

      expect(leased?.payloadJson).toBe(payloadJson);
      expect(listed).toEqual({
        events: [expect.objectContaining({ eventId: event.eventId })],
        hasMore: false,
      });
      const indexed = await clients.documents.send(
        new QueryCommand({
          TableName: s.names.events,
          IndexName: EVENTS_INDEX,
          KeyConditionExpression: 'events_pk = :t',
          ExpressionAttributeValues: { ':t': 'tenant-a' },
        }),
      );
      expect(indexed.Items?.map((item) => item.pk)).toEqual([`tenant-a#${event.eventId}`]);
    } finally {
      await s.cleanup();
    }
  });

  it('answers its own success when a lease, nack or redeliver landed but its answer was lost', async () => {
    // A fake fault, named as such: see lossyStore.
    const s = await makeDynamoStore();
    // Leases query first: lose the answer of the write, not of the query.
    const lossy = lossyStore(s, 'UpdateItemCommand');
    try {
      const { store } = lossy;
      const [event] = await seed({ store, clock: s.clock }, 1);
      const id = event?.eventId as string;

      lossy.loseNextAnswer();
      const [leased] = await store.lease({ ...leaseQuery(1), maxDeliveries: 1 });
      lossy.loseNextAnswer();
      const nacked = await store.nack('tenant-a', id, leased?.leaseId as string, 0, 1);
      lossy.loseNextAnswer();
      const redelivered = await store.redeliver('tenant-a', id);

      expect(lossy.lost()).toBe(3);
      expect(leased).toMatchObject({ eventId: id, deliveryCount: 1 });
      expect(nacked).toMatchObject({ kind: 'nacked', status: 'dead' });
      expect(redelivered).toEqual({ kind: 'redelivered' });
      expect(await store.get('tenant-a', id)).toMatchObject({ status: 'pending', deliveryCount: 0 });
    } finally {
      lossy.destroy();
      await s.cleanup();
    }
  });

  it('keeps the leases a lease took when one of its conditional writes fails, and leaves that event available', async () => {
    // A write refused for good in the middle of a lease cannot be produced on demand: a fake
    // fault (not retried by the SDK), injected in front of the second UpdateItem.
    const s = await makeDynamoStore();
    const faulty = createDynamoClients({ region: 'us-east-1', endpoint: endpoint as string });
    let updates = 0;
    faulty.documents.middlewareStack.add(
      (next, context) => async (args) => {
        if (/^Update(Item)?Command$/.test(context.commandName ?? '') && ++updates === 2) {
          throw Object.assign(new Error('User is not authorized'), {
            name: 'AccessDeniedException',
            $fault: 'client',
            $metadata: {},
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failSecondUpdate' },
    );
    try {
      const store = new DynamoEventStore({
        client: faulty.documents,
        tableName: s.names.events,
        clock: s.clock.read,
      });
      const events = await seed({ store, clock: s.clock }, 3);

      const leased = await store.lease(leaseQuery(3));
      const again = await s.store.lease(leaseQuery(3));

      expect(updates).toBeGreaterThanOrEqual(3);
      expect(leased).toHaveLength(2);
      expect(again).toHaveLength(1);
      expect(again[0]?.deliveryCount).toBe(1);
      expect(new Set([...leased, ...again].map((e) => e.eventId))).toEqual(
        new Set(events.map((e) => e.eventId)),
      );
    } finally {
      faulty.base.destroy();
      await s.cleanup();
    }
  });
});
