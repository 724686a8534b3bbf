import { randomUUID } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { DynamoEventStore } from '../../server/src/store/dynamodb/event-store';
import { DUE_SHARDS } from '../../server/src/store/dynamodb/item-keys';
import { createTables, DUE_INDEX, deleteTables } from '../../server/src/store/dynamodb/tables';
import { DynamoWebhookStore } from '../../server/src/store/dynamodb/webhook-store';
import type { ClaimedDelivery } from '../../server/src/store/webhook-store';
import { patientDynamoClients } from '../helpers/dynamodb-clients';
import { FakeClock } from '../helpers/fake-clock';
import { describeWebhookStore } from './webhook-conformance';

const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
if (!endpoint)
  throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts DynamoDB Local');
// Up to 100 claims at once: production's timeouts would fail the test on timing alone.
const clients = patientDynamoClients(endpoint);

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

describe('DynamoWebhookStore specifics', () => {
  const MINUTE = 60_000;

  /** A webhook store on its own client whose next UpdateItem answer is lost after it landed. */
  function lossyWebhooks(s: { names: { events: string }; clock: FakeClock }) {
    const own = createDynamoClients({ region: 'us-east-1', endpoint: endpoint as string });
    let loseNext = false;
    own.base.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (loseNext && context.commandName === 'UpdateItemCommand') {
          loseNext = false;
          throw Object.assign(new Error('Request timed out'), { name: 'TimeoutError', $metadata: {} });
        }
        return result;
      },
      { step: 'finalizeRequest', name: 'fakeLostAnswer' },
    );
    return {
      webhooks: new DynamoWebhookStore({
        client: own.documents,
        tableName: s.names.events,
        clock: s.clock.read,
      }),
      loseNextAnswer: () => {
        loseNext = true;
      },
      destroy: () => own.base.destroy(),
    };
  }

  const subscription = (clock: FakeClock, eventTypes: string[] = []) => ({
    tenantId: 'tenant-a',
    subscriptionId: `sub_${randomUUID().replaceAll('-', '')}`,
    targetUrl: 'https://hooks.example.com/',
    eventTypes,
    sources: [],
    description: null,
    status: 'active' as const,
    disabledReason: null,
    secret: 'whsec_c2VjcmV0',
    createdAt: clock.now,
    failingSince: null,
  });
  const event = (clock: FakeClock) => ({
    tenantId: 'tenant-a',
    eventId: randomUUID(),
    createdAt: clock.now,
    source: 's',
    eventType: 'order.created',
    payloadJson: '{}',
    priority: 'normal' as const,
    metadata: { priority: 'normal' },
    expiresAt: clock.now + 86_400_000,
  });

  it('answers its own claim when the claim landed but its answer was lost', async () => {
    // A fake fault, named as such: a lost answer cannot be produced on demand.
    const s = await makeDynamoStores();
    const lossy = lossyWebhooks(s);
    try {
      await s.webhooks.createSubscription(subscription(s.clock));
      const created = event(s.clock);
      await s.events.create({ event: created });

      lossy.loseNextAnswer();
      const claimed = await lossy.webhooks.claimDue({ limit: 10, claimMs: MINUTE });
      const again = await s.webhooks.claimDue({ limit: 10, claimMs: MINUTE });

      expect(claimed).toEqual([expect.objectContaining({ eventId: created.eventId, attempts: 0 })]);
      expect(again).toEqual([]);
      const outcome = await s.webhooks.finishAttempt(claimed[0] as ClaimedDelivery, {
        attempt: {
          eventId: created.eventId,
          attempt: 1,
          attemptedAt: s.clock.now,
          statusCode: 200,
          durationMs: 5,
          error: null,
          outcome: 'succeeded',
          nextAttemptAt: null,
        },
        expiresAt: created.expiresAt,
      });
      expect(outcome).toEqual({ kind: 'recorded', disabled: null });
    } finally {
      lossy.destroy();
      await s.cleanup();
    }
  });

  it('keeps each delivery record in one due shard, spreads them over all, and claims from every shard', async () => {
    const s = await makeDynamoStores();
    try {
      await s.webhooks.createSubscription(subscription(s.clock));
      for (let i = 0; i < 40; i += 1) await s.events.create({ event: event(s.clock) });

      const shards = new Set<string>();
      for (let shard = 0; shard < DUE_SHARDS; shard += 1) {
        const page = await clients.documents.send(
          new QueryCommand({
            TableName: s.names.events,
            IndexName: DUE_INDEX,
            KeyConditionExpression: 'due_pk = :shard',
            ExpressionAttributeValues: { ':shard': `due#${shard}` },
          }),
        );
        if ((page.Items ?? []).length > 0) shards.add(`due#${shard}`);
      }
      const claimed = await s.webhooks.claimDue({ limit: 100, claimMs: MINUTE });

      expect(shards.size).toBe(DUE_SHARDS);
      expect(claimed).toHaveLength(40);
    } finally {
      await s.cleanup();
    }
  });
});
