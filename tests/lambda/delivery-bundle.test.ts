import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DynamoDBBatchResponse } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { type BundleReport, bundleDeliveryLambda } from '../../infra/src/lambda-bundle';
import { systemClock } from '../../server/src/clock';
import { loadSpec } from '../../server/src/spec';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { DynamoEventStore } from '../../server/src/store/dynamodb/event-store';
import { createTables, deleteTables, dynamoTableNames } from '../../server/src/store/dynamodb/tables';
import { DynamoWebhookStore } from '../../server/src/store/dynamodb/webhook-store';
import type { StoredSubscription } from '../../server/src/store/webhook-store';
import type { SweepReport } from '../../server/src/webhooks/aws/sweep-handler';
import { openStreamReader, type StreamReader } from '../helpers/dynamodb-stream';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';
import { type LambdaProcess, startLambdaProcess } from './lambda-process';

/**
 * The webhook delivery Lambdas as they ship: bundled by the same function the CDK stack uses,
 * loaded in a fresh Node process, invoked by their two exports with a stream batch read from
 * DynamoDB Local and with a scheduled event, delivering to a real receiver. AUTH_MODE=local
 * only because the receiver listens on 127.0.0.1 (the stack sets aws).
 */
const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT as string;
const stage = `delivery-${process.pid}-${Date.now().toString(36)}`;
const tables = dynamoTableNames(stage);
const clients = createDynamoClients({ region: 'us-east-1', endpoint });
const outDir = mkdtempSync(path.join(tmpdir(), 'triggers-delivery-'));
const stores = {
  events: new DynamoEventStore({ client: clients.documents, tableName: tables.events, clock: systemClock }),
  webhooks: new DynamoWebhookStore({
    client: clients.documents,
    tableName: tables.events,
    clock: systemClock,
  }),
};

/** An EventBridge scheduled event, as the sweep's rule sends it. */
const scheduled = () => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: [`arn:aws:events:us-east-1:123456789012:rule/triggers-api-${stage}-webhook-sweep`],
  detail: {},
});

let report: BundleReport;
let lambda: LambdaProcess;
let receiver: WebhookReceiver;
let reader: StreamReader;

async function subscribe(targetUrl: string): Promise<StoredSubscription> {
  const subscription: StoredSubscription = {
    tenantId: 'acme',
    subscriptionId: `sub_${randomUUID().replaceAll('-', '')}`,
    targetUrl,
    eventTypes: [],
    sources: [],
    description: null,
    status: 'active',
    disabledReason: null,
    secret: `whsec_${randomBytes(32).toString('base64')}`,
    createdAt: Date.now(),
    failingSince: null,
  };
  await stores.webhooks.createSubscription(subscription);
  return subscription;
}

async function ingest(): Promise<string> {
  const eventId = randomUUID();
  const now = Date.now();
  await stores.events.create({
    event: {
      tenantId: 'acme',
      eventId,
      createdAt: now,
      source: 'shop',
      eventType: 'order.created',
      payloadJson: JSON.stringify({ order: eventId }),
      priority: 'normal',
      metadata: { priority: 'normal' },
      expiresAt: now + 86_400_000,
    },
  });
  return eventId;
}

beforeAll(async () => {
  report = bundleDeliveryLambda(outDir);
  await createTables(clients.base, tables);
  receiver = await startReceiver();
  reader = await openStreamReader(clients.base, tables.events, endpoint);
  lambda = await startLambdaProcess(report.indexPath, {
    TRIGGERS_STAGE: stage,
    TRIGGERS_DYNAMODB_ENDPOINT: endpoint,
    AWS_REGION: 'us-east-1',
    AUTH_MODE: 'local',
    // One retry, a second later: the sweep's test waits for it on the real clock.
    TRIGGERS_WEBHOOK_RETRY_SCHEDULE: '1',
    TRIGGERS_WEBHOOK_TIMEOUT_MS: '2000',
    LAMBDA_TIMEOUT_MS: '60000',
  });
}, 60_000);

afterAll(async () => {
  await lambda?.stop();
  reader?.close();
  await receiver?.close();
  await deleteTables(clients.base, tables);
  clients.base.destroy();
  rmSync(outDir, { recursive: true, force: true });
});

describe('the bundled webhook delivery handlers', () => {
  it('bundles neither SQLite nor Express nor the contract: a small bundle with the version beside it', () => {
    const packages = report.inputBytesByPackage.map(([name]) => name);
    expect(packages).toContain('@aws-sdk/lib-dynamodb');
    for (const absent of ['better-sqlite3', 'express', 'yaml', 'redoc'])
      expect(packages).not.toContain(absent);
    expect(readFileSync(report.indexPath, 'utf8')).not.toMatch(/better-sqlite3|better_sqlite3/);
    expect(JSON.parse(readFileSync(path.join(outDir, 'version.json'), 'utf8'))).toEqual({
      version: loadSpec().document.info.version,
    });
  });

  it('streamHandler delivers the new delivery records of a real stream batch, signed', async () => {
    const subscription = await subscribe(receiver.url);
    const ids = [await ingest(), await ingest()];
    const batch = await reader.next();

    const { result } = await lambda.invoke<DynamoDBBatchResponse>(batch, 'streamHandler');

    expect(result).toEqual({ batchItemFailures: [] });
    expect(receiver.received.map((webhook) => webhook.headers['webhook-id']).sort()).toEqual(ids.sort());
    for (const webhook of receiver.received) {
      new Webhook(subscription.secret).verify(webhook.body, {
        'webhook-id': String(webhook.headers['webhook-id']),
        'webhook-timestamp': String(webhook.headers['webhook-timestamp']),
        'webhook-signature': String(webhook.headers['webhook-signature']),
      });
      expect(webhook.headers['user-agent']).toBe(`TriggersAPI-Webhooks/${loadSpec().document.info.version}`);
    }
    const log = await stores.webhooks.listAttempts('acme', subscription.subscriptionId, 10);
    expect(log.attempts.map((attempt) => attempt.outcome)).toEqual(['succeeded', 'succeeded']);
  });

  it('sweepHandler retries a failed attempt when due, and marks it failed when the schedule runs out', async () => {
    const failing = await subscribe(`${receiver.url}?failing`);
    receiver.respond = (webhook) => ({ status: webhook.path.endsWith('?failing') ? 503 : 200 });
    const eventId = await ingest();
    const first = await lambda.invoke<DynamoDBBatchResponse>(await reader.next(), 'streamHandler');
    // The retry is due about a second later (±20 %): wait for it on the real clock.
    const due = (await stores.webhooks.nextDueAt()) ?? Number.POSITIVE_INFINITY;
    expect(due - Date.now()).toBeLessThan(2_000);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now() + 20)));

    const { result } = await lambda.invoke<SweepReport>(scheduled(), 'sweepHandler');

    expect(first.result).toEqual({ batchItemFailures: [] });
    expect(result).toEqual({ claimed: 1, ended: { failed: 1 }, errors: 0 });
    const log = await stores.webhooks.listAttempts('acme', failing.subscriptionId, 10);
    expect(log.attempts.map((attempt) => [attempt.attempt, attempt.outcome, attempt.statusCode])).toEqual([
      [2, 'failed', 503],
      [1, 'retrying', 503],
    ]);
    // Two attempts to the failing target, and one to the first subscription's, from the stream.
    expect(receiver.received.filter((webhook) => webhook.headers['webhook-id'] === eventId)).toHaveLength(3);
  });

  it('made its runtime once, with AUTH_MODE as set, and wrote EMF metrics of every outcome', () => {
    const lines = lambda.outputLines();
    const ready = lines.filter((line) => line.msg === 'Triggers API webhook delivery ready on Lambda');
    expect(ready).toEqual([expect.objectContaining({ stage, auth_mode: 'local' })]);
    const total = (name: string) =>
      lines
        .filter((line) => line._aws !== undefined && line[name] !== undefined)
        .flatMap((line) => ([] as number[]).concat(line[name] as number | number[]))
        .reduce((sum, value) => sum + value, 0);
    expect(total('WebhookDeliveriesSucceeded')).toBe(3);
    expect(total('WebhookDeliveriesRetrying')).toBe(1);
    expect(total('WebhookDeliveriesFailed')).toBe(1);
    const emf = lines.filter((line) => line._aws !== undefined);
    expect(emf.every((line) => line.stage === stage && line.service === 'triggers-api')).toBe(true);
  });
});
