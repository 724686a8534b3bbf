import { randomBytes, randomUUID } from 'node:crypto';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { DELIVERY_STREAM_FILTER } from '../../infra/src/delivery';
import { LambdaDeliveryMetrics } from '../../server/src/lambda/metrics';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { DynamoEventStore } from '../../server/src/store/dynamodb/event-store';
import { createTables, deleteTables } from '../../server/src/store/dynamodb/tables';
import { DynamoWebhookStore } from '../../server/src/store/dynamodb/webhook-store';
import type { NewEvent } from '../../server/src/store/event-store';
import type { StoredSubscription } from '../../server/src/store/webhook-store';
import { createDeliveryRuntime, type DeliveryContext } from '../../server/src/webhooks/aws/runtime';
import { createStreamHandler } from '../../server/src/webhooks/aws/stream-handler';
import { createSweepHandler } from '../../server/src/webhooks/aws/sweep-handler';
import { patientDynamoClients } from '../helpers/dynamodb-clients';
import { openStreamReader, type StreamReader } from '../helpers/dynamodb-stream';
import { FakeClock } from '../helpers/fake-clock';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

/**
 * The webhook delivery Lambdas' handlers (server/src/webhooks/aws/) on DynamoDB Local, with
 * real event shapes: events are ingested through DynamoEventStore (which writes their
 * delivery records), the events table's stream is read back through DynamoDB Streams and
 * handed to the stream handler as Lambda would, and a real receiver answers the webhooks.
 * Time moves by a FakeClock that starts now, so the suite holds on any date.
 */
const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
if (!endpoint)
  throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts DynamoDB Local');
const clients = patientDynamoClients(endpoint);

const SECOND = 1_000;
const DAY = 86_400_000;
/** A Lambda context with a minute to go. */
const context = (remainingMs = 60 * SECOND): DeliveryContext => ({
  getRemainingTimeInMillis: () => remainingMs,
});

interface Options {
  retryScheduleSeconds?: number[];
  concurrency?: number;
  concurrencyPerTarget?: number;
  guardMode?: 'local' | 'aws';
  /** A client for the webhook store (to inject store faults); the shared one by default. */
  webhookClient?: ReturnType<typeof createDynamoClients>;
}

/** Fresh tables, the stores on a FakeClock, a stream reader, a receiver and both handlers. */
async function pipeline(options: Options = {}) {
  const names = { events: `events-${randomUUID()}`, keys: `keys-${randomUUID()}` };
  await createTables(clients.base, names);
  const clock = new FakeClock();
  const storeOptions = { client: clients.documents, tableName: names.events, clock: clock.read };
  const events = new DynamoEventStore(storeOptions);
  const webhooks = new DynamoWebhookStore({
    ...storeOptions,
    client: (options.webhookClient ?? clients).documents,
  });
  const reader: StreamReader = await openStreamReader(clients.base, names.events, endpoint as string);
  const receiver: WebhookReceiver = await startReceiver();
  const logger = pino({ level: 'silent' });
  const runtime = createDeliveryRuntime({
    config: {
      authMode: 'aws',
      webhooks: {
        retryScheduleSeconds: options.retryScheduleSeconds ?? [5, 300],
        timeoutMs: 2 * SECOND,
        concurrency: options.concurrency ?? 10,
        concurrencyPerTarget: options.concurrencyPerTarget ?? 5,
      },
    },
    stores: { events, webhooks },
    clock: clock.read,
    logger,
    metrics: new LambdaDeliveryMetrics({ stage: 'test', logger }),
    version: '1.0.0-test',
    guardMode: options.guardMode ?? 'local',
    random: () => 0.5,
  });
  let sequence = 0;
  return {
    clock,
    events,
    webhooks,
    reader,
    receiver,
    runtime,
    stream: createStreamHandler(runtime),
    sweep: createSweepHandler(runtime),
    async subscribe(overrides: Partial<StoredSubscription> = {}): Promise<StoredSubscription> {
      const subscription: StoredSubscription = {
        tenantId: 'acme',
        subscriptionId: `sub_${randomUUID().replaceAll('-', '')}`,
        targetUrl: receiver.url,
        eventTypes: [],
        sources: [],
        description: null,
        status: 'active',
        disabledReason: null,
        secret: `whsec_${randomBytes(32).toString('base64')}`,
        createdAt: clock.now,
        failingSince: null,
        ...overrides,
      };
      const outcome = await webhooks.createSubscription(subscription);
      if (outcome.kind !== 'created') throw new Error(`expected created, got ${outcome.kind}`);
      clock.advance(1);
      return subscription;
    },
    async ingest(overrides: Partial<NewEvent> = {}): Promise<NewEvent> {
      sequence += 1;
      const event: NewEvent = {
        tenantId: 'acme',
        eventId: randomUUID(),
        createdAt: clock.now,
        source: 'shop',
        eventType: 'order.created',
        payloadJson: JSON.stringify({ n: sequence }),
        priority: 'normal',
        metadata: { priority: 'normal' },
        expiresAt: clock.now + 7 * DAY,
        ...overrides,
      };
      const outcome = await events.create({ event });
      if (outcome.kind !== 'created') throw new Error(`expected created, got ${outcome.kind}`);
      return event;
    },
    async log(subscription: StoredSubscription) {
      return (await webhooks.listAttempts('acme', subscription.subscriptionId, 100)).attempts;
    },
    async close() {
      reader.close();
      runtime.poster.close();
      await receiver.close();
      await deleteTables(clients.base, names);
    },
  };
}

type Pipeline = Awaited<ReturnType<typeof pipeline>>;
let p: Pipeline | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});
afterAll(() => clients.base.destroy());

/** The delivery INSERTs of a stream batch (what the event source's filter lets through). */
const deliveryInserts = (event: DynamoDBStreamEvent) =>
  event.Records.filter((record) => record.eventName === 'INSERT' && record.dynamodb?.NewImage?.due_pk);

/**
 * What the handlers write to stdout, as on Lambda: Powertools prints its EMF lines there. Kept
 * here rather than printed (each test's own lines are read with `withMetrics`).
 */
let stdout: string[] = [];
beforeEach(() => {
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
});
afterEach(() => jest.restoreAllMocks());

/** Runs `act`; the totals of each EMF metric it wrote to stdout. */
async function withMetrics<T>(
  act: () => Promise<T>,
): Promise<{ result: T; metrics: Record<string, number> }> {
  const from = stdout.length;
  const result = await act();
  const metrics: Record<string, number> = {};
  for (const line of stdout.slice(from).join('').split('\n')) {
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as Record<string, unknown> & {
      _aws?: { CloudWatchMetrics: Array<{ Namespace: string; Metrics: Array<{ Name: string }> }> };
    };
    if (!record._aws) continue;
    expect(record).toMatchObject({ service: 'triggers-api', stage: 'test' });
    for (const group of record._aws.CloudWatchMetrics) {
      expect(group.Namespace).toBe('TriggersApi');
      for (const { Name } of group.Metrics) {
        // One value, or every value of the invocation as a list.
        const values = ([] as number[]).concat(record[Name] as number | number[]);
        metrics[Name] = (metrics[Name] ?? 0) + values.reduce((sum, value) => sum + value, 0);
      }
    }
  }
  return { result, metrics };
}

describe('the webhook stream handler', () => {
  it('delivers each new delivery record once, signed, and logs it succeeded; a redelivered batch sends nothing', async () => {
    // Prepare
    p = await pipeline();
    const all = await p.subscribe();
    const invoices = await p.subscribe({
      eventTypes: ['invoice.*'],
      targetUrl: `${p.receiver.url}?invoices`,
    });
    const orders = [await p.ingest(), await p.ingest()];
    const invoice = await p.ingest({ eventType: 'invoice.paid' });
    const batch = await p.reader.next();
    // Act
    const { result, metrics } = await withMetrics(() => (p as Pipeline).stream(batch, context()));
    const again = await (p as Pipeline).stream(batch, context());
    // Assess
    expect(deliveryInserts(batch)).toHaveLength(4);
    expect(batch.Records.length).toBeGreaterThan(4);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(again).toEqual({ batchItemFailures: [] });
    expect(p.receiver.received).toHaveLength(4);
    const sent = (path: string) =>
      p?.receiver.received
        .filter((webhook) => webhook.path === path)
        .map((webhook) => webhook.headers['webhook-id'])
        .sort();
    expect(sent('/hooks')).toEqual([...orders, invoice].map((event) => event.eventId).sort());
    expect(sent('/hooks?invoices')).toEqual([invoice.eventId]);
    for (const webhook of p.receiver.received) {
      const secret = webhook.path === '/hooks' ? all.secret : invoices.secret;
      const verified = new Webhook(secret).verify(webhook.body, {
        'webhook-id': String(webhook.headers['webhook-id']),
        'webhook-timestamp': String(webhook.headers['webhook-timestamp']),
        'webhook-signature': String(webhook.headers['webhook-signature']),
      }) as { event_id: string; payload: unknown };
      expect(verified.event_id).toBe(webhook.headers['webhook-id']);
      expect(webhook.headers['user-agent']).toBe('TriggersAPI-Webhooks/1.0.0-test');
    }
    expect(
      (await p.log(all)).map((attempt) => [attempt.outcome, attempt.attempt, attempt.statusCode]),
    ).toEqual([
      ['succeeded', 1, 200],
      ['succeeded', 1, 200],
      ['succeeded', 1, 200],
    ]);
    expect((await p.log(invoices)).map((attempt) => attempt.outcome)).toEqual(['succeeded']);
    expect(metrics).toEqual({ WebhookDeliveriesSucceeded: 4 });
    expect(await p.webhooks.nextDueAt()).toBeUndefined();
  });

  it('skips a record whose delivery the sweep holds: no second send', async () => {
    // Prepare: a sweep claimed the delivery (its attempt still in flight) before the stream.
    p = await pipeline();
    await p.subscribe();
    await p.ingest();
    const batch = await p.reader.next();
    const [held] = await p.webhooks.claimDue({ limit: 10, claimMs: p.runtime.claimMs });
    // Act
    const result = await p.stream(batch, context());
    // Assess
    expect(held).toBeDefined();
    expect(result).toEqual({ batchItemFailures: [] });
    expect(p.receiver.received).toEqual([]);
  });

  it('skips a record the sweep delivered already', async () => {
    // Prepare
    p = await pipeline();
    await p.subscribe();
    await p.ingest();
    const batch = await p.reader.next();
    const swept = await p.sweep({}, context());
    // Act
    const result = await p.stream(batch, context());
    // Assess
    expect(swept).toMatchObject({ claimed: 1, ended: { succeeded: 1 } });
    expect(result).toEqual({ batchItemFailures: [] });
    expect(p.receiver.received).toHaveLength(1);
  });

  it('reports a record whose claim the store failed in batchItemFailures, and delivers the others', async () => {
    // Prepare: UpdateItem on one event's delivery record is throttled for good.
    const faulty = createDynamoClients({ region: 'us-east-1', endpoint: endpoint as string });
    let poisoned = '';
    faulty.base.middlewareStack.add(
      (next, context) => async (args) => {
        // Before the document client marshals the key, or after: either shape.
        const pk = (args.input as { Key?: { pk?: string | { S?: string } } }).Key?.pk;
        const key = (typeof pk === 'string' ? pk : pk?.S) ?? '';
        if (context.commandName === 'UpdateItemCommand' && poisoned !== '' && key.endsWith(poisoned)) {
          // A fake fault, named as such: DynamoDB's throttling cannot be produced on demand.
          throw Object.assign(new Error('Throughput exceeds the current capacity'), {
            name: 'ProvisionedThroughputExceededException',
            $metadata: {},
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'fakeThrottle' },
    );
    try {
      p = await pipeline({ webhookClient: faulty });
      await p.subscribe();
      const good = await p.ingest();
      const bad = await p.ingest();
      poisoned = bad.eventId;
      const batch = await p.reader.next();
      const badRecord = deliveryInserts(batch).find(
        (record) => record.dynamodb?.NewImage?.event_id?.S === bad.eventId,
      );
      // Act
      const result = await p.stream(batch, context());
      // Assess
      expect(result).toEqual({
        batchItemFailures: [{ itemIdentifier: badRecord?.dynamodb?.SequenceNumber }],
      });
      expect(p.receiver.received.map((webhook) => webhook.headers['webhook-id'])).toEqual([good.eventId]);
      // Lambda retries from the failed record on; once the store answers, it is delivered.
      poisoned = '';
      const retried = await p.stream(
        { Records: batch.Records.slice(batch.Records.indexOf(badRecord as never)) },
        context(),
      );
      expect(retried).toEqual({ batchItemFailures: [] });
      expect(p.receiver.received.map((webhook) => webhook.headers['webhook-id'])).toEqual([
        good.eventId,
        bad.eventId,
      ]);
    } finally {
      faulty.base.destroy();
    }
  });

  it("runs a batch's attempts at once, at most concurrencyPerTarget to one subscription", async () => {
    // Prepare
    p = await pipeline({ concurrency: 10, concurrencyPerTarget: 3 });
    await p.subscribe();
    for (let i = 0; i < 7; i += 1) await p.ingest();
    p.receiver.respond = () => ({ status: 200, delayMs: 200 });
    const batch = await p.reader.next();
    // Act
    const result = await p.stream(batch, context());
    // Assess: all seven delivered, three at a time at most and at the peak (attempts one after
    // another would never have more than one in flight): no wall-clock bound, which a loaded
    // machine can miss.
    expect(result).toEqual({ batchItemFailures: [] });
    expect(p.receiver.received).toHaveLength(7);
    expect(p.receiver.maxInFlight).toBe(3);
  });

  it('leaves the records it has no time left to attempt to Lambda, claiming nothing', async () => {
    // Prepare
    p = await pipeline();
    await p.subscribe();
    await p.ingest();
    await p.ingest();
    const batch = await p.reader.next();
    // Act: less time left than an attempt may take (its 2 s timeout and the store's margin).
    const result = await p.stream(batch, context(p.runtime.attemptBudgetMs - 1));
    // Assess
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      deliveryInserts(batch)
        .map((record) => record.dynamodb?.SequenceNumber)
        .sort(),
    );
    expect(p.receiver.received).toEqual([]);
    expect(await p.sweep({}, context())).toMatchObject({ claimed: 2, ended: { succeeded: 2 } });
  });

  it('refuses the receiver on 127.0.0.1 by default (AUTH_MODE=aws): logged retrying with the reason, nothing sent', async () => {
    // Prepare
    p = await pipeline({ guardMode: 'aws' });
    const http = await p.subscribe();
    const port = new URL(p.receiver.url).port;
    const https = await p.subscribe({ targetUrl: `https://127.0.0.1:${port}/hooks` });
    await p.ingest();
    const batch = await p.reader.next();
    // Act
    const result = await p.stream(batch, context());
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(p.receiver.received).toEqual([]);
    const [overHttp] = await p.log(http);
    const [overHttps] = await p.log(https);
    expect(overHttp).toMatchObject({
      outcome: 'retrying',
      statusCode: null,
      error: 'target_url must be https.',
    });
    expect(overHttps).toMatchObject({ outcome: 'retrying', statusCode: null });
    expect(overHttps?.error).toContain(
      '127.0.0.1 is a loopback, private, link-local or otherwise non-public',
    );
  });
});

/**
 * Lambda's event filtering, for the two rules the delivery filter uses: a list of values matches
 * when any does, a value is an exact string or `{prefix}`; nested objects match field by field,
 * and a field the pattern names must be there.
 */
function matchesFilter(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((rule) =>
      typeof rule === 'object' && rule !== null && 'prefix' in rule
        ? typeof value === 'string' && value.startsWith(String(rule.prefix))
        : rule === value,
    );
  }
  if (typeof pattern !== 'object' || pattern === null) return false;
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(pattern).every(([key, inner]) =>
    matchesFilter(inner, (value as Record<string, unknown>)[key]),
  );
}

describe("the stream mapping's filter (infra/src/delivery.ts)", () => {
  it('lets through exactly the INSERTs of delivery records of a real stream, which the handler attempts', async () => {
    // Prepare: everything a delivery writes: subscription, events, records, attempts, deletes.
    p = await pipeline({ retryScheduleSeconds: [5] });
    await p.subscribe();
    const events = [await p.ingest(), await p.ingest()];
    p.receiver.respond = () => ({ status: 503 });
    const first = await p.reader.next();
    await p.stream(first, context());
    p.clock.advance(5 * SECOND);
    await p.sweep({}, context());
    const records = [...first.Records, ...(await p.reader.next()).Records];
    // Act
    const passed = records.filter((record) => matchesFilter(DELIVERY_STREAM_FILTER, record));
    // Assess
    expect(new Set(records.map((record) => record.eventName))).toEqual(
      new Set(['INSERT', 'MODIFY', 'REMOVE']),
    );
    expect(passed.map((record) => [record.eventName, record.dynamodb?.NewImage?.event_id?.S])).toEqual(
      events.map((event) => ['INSERT', event.eventId]),
    );
    expect(passed).toEqual(deliveryInserts({ Records: records }));
  });
});

describe('the webhook sweep handler', () => {
  it('retries a failed first attempt once the clock passes its retry time, with the same webhook-id', async () => {
    // Prepare
    p = await pipeline({ retryScheduleSeconds: [5, 300] });
    const subscription = await p.subscribe();
    const event = await p.ingest();
    p.receiver.respond = () => ({ status: 503 });
    const first = await withMetrics(async () =>
      (p as Pipeline).stream(await (p as Pipeline).reader.next(), context()),
    );
    // Act
    const early = await p.sweep({}, context());
    p.clock.advance(5 * SECOND);
    p.receiver.respond = () => ({ status: 204 });
    const retried = await withMetrics(() => (p as Pipeline).sweep({}, context()));
    // Assess
    expect(first.metrics).toEqual({ WebhookDeliveriesRetrying: 1 });
    expect(early).toEqual({ claimed: 0, ended: {}, errors: 0 });
    expect(retried.result).toEqual({ claimed: 1, ended: { succeeded: 1 }, errors: 0 });
    expect(retried.metrics).toEqual({ WebhookDeliveriesSucceeded: 1 });
    expect(p.receiver.received.map((webhook) => webhook.headers['webhook-id'])).toEqual([
      event.eventId,
      event.eventId,
    ]);
    expect((await p.log(subscription)).map((attempt) => [attempt.attempt, attempt.outcome])).toEqual([
      [2, 'succeeded'],
      [1, 'retrying'],
    ]);
  });

  it('marks a delivery failed when its schedule runs out, keeps it in the log, and emits WebhookDeliveriesFailed', async () => {
    // Prepare
    p = await pipeline({ retryScheduleSeconds: [5] });
    const subscription = await p.subscribe();
    await p.ingest();
    p.receiver.respond = () => ({ status: 500 });
    await p.stream(await p.reader.next(), context());
    p.clock.advance(5 * SECOND);
    // Act
    const { result, metrics } = await withMetrics(() => (p as Pipeline).sweep({}, context()));
    // Assess
    expect(result).toEqual({ claimed: 1, ended: { failed: 1 }, errors: 0 });
    expect(metrics).toEqual({ WebhookDeliveriesFailed: 1 });
    const log = await p.log(subscription);
    expect(log.map((attempt) => [attempt.attempt, attempt.outcome, attempt.statusCode])).toEqual([
      [2, 'failed', 500],
      [1, 'retrying', 500],
    ]);
    p.clock.advance(DAY);
    expect(await p.sweep({}, context())).toEqual({ claimed: 0, ended: {}, errors: 0 });
    expect(p.receiver.received).toHaveLength(2);
  });

  it('delivers everything due, at most concurrencyPerTarget at once to one subscription', async () => {
    // Prepare: 14 deliveries, 12 of them to a slow receiver, none attempted by the stream.
    p = await pipeline({ concurrency: 8, concurrencyPerTarget: 3 });
    const slow = await p.subscribe();
    const fast = await p.subscribe({ targetUrl: `${p.receiver.url}?fast`, eventTypes: ['invoice.paid'] });
    for (let i = 0; i < 10; i += 1) await p.ingest();
    await p.ingest({ eventType: 'invoice.paid' });
    await p.ingest({ eventType: 'invoice.paid' });
    let slowInFlight = 0;
    let slowMax = 0;
    p.receiver.respond = (webhook) => {
      if (webhook.path !== '/hooks') return { status: 200 };
      slowInFlight += 1;
      slowMax = Math.max(slowMax, slowInFlight);
      setTimeout(() => {
        slowInFlight -= 1;
      }, 100);
      return { status: 200, delayMs: 100 };
    };
    // Act
    const report = await p.sweep({}, context());
    // Assess
    expect(report).toEqual({ claimed: 14, ended: { succeeded: 14 }, errors: 0 });
    expect(slowMax).toBe(3);
    expect(p.receiver.received).toHaveLength(14);
    expect(await p.log(slow)).toHaveLength(12);
    expect(await p.log(fast)).toHaveLength(2);
    expect(await p.webhooks.nextDueAt()).toBeUndefined();
  });

  it('delivers a delivery whose claim ran out: the invocation that claimed it died mid-attempt', async () => {
    // Prepare: a stream invocation claimed the delivery, then was cut off before recording.
    p = await pipeline();
    const subscription = await p.subscribe();
    const event = await p.ingest();
    const dead = await p.webhooks.claim(
      'acme',
      subscription.subscriptionId,
      event.eventId,
      p.runtime.claimMs,
    );
    // Act
    const during = await p.sweep({}, context());
    p.clock.advance(p.runtime.claimMs);
    const after = await p.sweep({}, context());
    // Assess
    expect(dead).toBeDefined();
    expect(during).toEqual({ claimed: 0, ended: {}, errors: 0 });
    expect(after).toEqual({ claimed: 1, ended: { succeeded: 1 }, errors: 0 });
    expect(p.receiver.received.map((webhook) => webhook.headers['webhook-id'])).toEqual([event.eventId]);
  });

  it("throws when the store fails its claim, so that the function's errors (and their alarm) show it", async () => {
    // Prepare: every Query of the due index is throttled for good.
    const faulty = createDynamoClients({ region: 'us-east-1', endpoint: endpoint as string });
    faulty.base.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'QueryCommand') {
          // A fake fault, named as such: DynamoDB's throttling cannot be produced on demand.
          throw Object.assign(new Error('Throughput exceeds the current capacity'), {
            name: 'ProvisionedThroughputExceededException',
            $metadata: {},
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'fakeThrottle' },
    );
    try {
      p = await pipeline({ webhookClient: faulty });
      await p.subscribe();
      await p.ingest();
      // Act
      const sweep = p.sweep({}, context());
      // Assess
      await expect(sweep).rejects.toMatchObject({ name: 'UnavailableError' });
      expect(p.receiver.received).toEqual([]);
    } finally {
      faulty.base.destroy();
    }
  });

  it('claims nothing when the invocation has too little time left', async () => {
    // Prepare
    p = await pipeline();
    await p.subscribe();
    await p.ingest();
    // Act
    const report = await p.sweep({}, context(p.runtime.attemptBudgetMs - 1));
    // Assess
    expect(report).toEqual({ claimed: 0, ended: {}, errors: 0 });
    expect(await p.sweep({}, context())).toMatchObject({ claimed: 1 });
  });
});
