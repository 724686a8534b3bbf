import { randomBytes, randomUUID } from 'node:crypto';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
} from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../../server/src/errors';
import type { RetryPolicy } from '../../server/src/store/dynamodb/backoff';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { UnprocessedItemsError } from '../../server/src/store/dynamodb/errors';
import { DynamoEventStore } from '../../server/src/store/dynamodb/event-store';
import { createTables, deleteTables } from '../../server/src/store/dynamodb/tables';
import type { NewEvent } from '../../server/src/store/event-store';
import { FakeClock } from '../helpers/fake-clock';

const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
if (!endpoint)
  throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts DynamoDB Local');
const clients = createDynamoClients({ region: 'us-east-1', endpoint });

/**
 * A STUB OF A FAULT THAT CANNOT BE PRODUCED FOR REAL. DynamoDB answers part of a batch call as
 * unprocessed when the table throttles or the answer passes 16 MB; DynamoDB Local never does.
 * This client passes every call to DynamoDB Local, except that a batch call is sent with only
 * its first `served(call)` requests, and the rest come back as UnprocessedKeys or
 * UnprocessedItems, as DynamoDB would answer them.
 */
class UnprocessedBatchesStub {
  /** How many requests each batch call carried, in order. */
  readonly batchSizes: number[] = [];

  constructor(
    private readonly real: DynamoDBDocumentClient,
    private readonly served: (call: number) => number,
  ) {}

  /** The store only ever calls `send`. */
  asClient(): DynamoDBDocumentClient {
    return this as unknown as DynamoDBDocumentClient;
  }

  async send(command: unknown): Promise<unknown> {
    if (command instanceof BatchGetCommand) {
      const [table, request] = onlyTable(command.input.RequestItems);
      const keys = request.Keys ?? [];
      const [now, later] = this.split(keys);
      const answer = now.length
        ? await this.real.send(new BatchGetCommand({ RequestItems: { [table]: { ...request, Keys: now } } }))
        : { Responses: { [table]: [] } };
      return { ...answer, UnprocessedKeys: later.length ? { [table]: { ...request, Keys: later } } : {} };
    }
    if (command instanceof BatchWriteCommand) {
      const [table, requests] = onlyTable(command.input.RequestItems);
      const [now, later] = this.split(requests);
      const answer = now.length
        ? await this.real.send(new BatchWriteCommand({ RequestItems: { [table]: now } }))
        : {};
      return { ...answer, UnprocessedItems: later.length ? { [table]: later } : {} };
    }
    // Any other command (Get, TransactWrite, Delete) goes to DynamoDB Local as it is.
    return this.real.send(command as GetCommand);
  }

  private split<T>(requests: T[]): [T[], T[]] {
    this.batchSizes.push(requests.length);
    const count = this.served(this.batchSizes.length);
    return [requests.slice(0, count), requests.slice(count)];
  }
}

function onlyTable<T>(requestItems: Record<string, T> | undefined): [string, T] {
  const [entry, ...others] = Object.entries(requestItems ?? {});
  if (!entry || others.length > 0) throw new Error('the store batches one table at a time');
  return entry;
}

/** Records the waits instead of waiting; `random` fixes the jitter. */
function fakeWaits(random: number): { waits: number[]; policy: Partial<RetryPolicy> } {
  const waits: number[] = [];
  return {
    waits,
    policy: {
      sleep: async (ms) => {
        waits.push(ms);
      },
      random: () => random,
    },
  };
}

describe('DynamoEventStore on batch items left unprocessed', () => {
  let names: { events: string; keys: string };
  let clock: FakeClock;

  beforeEach(async () => {
    names = { events: `events-${randomUUID()}`, keys: `keys-${randomUUID()}` };
    await createTables(clients.base, names);
    clock = new FakeClock();
  });

  afterEach(() => deleteTables(clients.base, names));

  /** A store on the stub; payloads of more than 50 KB compressed go to 25 KB chunks. */
  function storeOn(stub: UnprocessedBatchesStub, unprocessedRetry: Partial<RetryPolicy>) {
    return new DynamoEventStore({
      client: stub.asClient(),
      tableName: names.events,
      clock: clock.read,
      inlinePayloadBytes: 50_000,
      chunkBytes: 25_000,
      unprocessedRetry,
    });
  }

  /** An event whose payload is stored in 4 chunk items, created on DynamoDB Local directly. */
  async function createChunkedEvent(): Promise<NewEvent> {
    const event: NewEvent = {
      tenantId: 'tenant-a',
      eventId: randomUUID(),
      createdAt: clock.now,
      source: 's',
      eventType: 'e',
      payloadJson: JSON.stringify({ data: randomBytes(90_000).toString('base64') }),
      priority: 'normal',
      metadata: { priority: 'normal' },
      expiresAt: clock.now + 86_400_000,
    };
    const direct = new DynamoEventStore({
      client: clients.documents,
      tableName: names.events,
      clock: clock.read,
      inlinePayloadBytes: 50_000,
      chunkBytes: 25_000,
    });
    await direct.create({ event });
    const item = await clients.documents.send(
      new GetCommand({
        TableName: names.events,
        Key: { pk: `tenant-a#${event.eventId}` },
        ConsistentRead: true,
      }),
    );
    // About 90 KB compressed.
    expect(item.Item?.payload_chunks).toBe(4);
    return event;
  }

  const chunkExists = async (event: NewEvent, index: number) =>
    (
      await clients.documents.send(
        new GetCommand({
          TableName: names.events,
          Key: { pk: `${event.tenantId}#${event.eventId}#chunk#${index}` },
          ConsistentRead: true,
        }),
      )
    ).Item !== undefined;

  it('resends only the unprocessed keys of a read, after waits that double and are jittered', async () => {
    // Prepare: one key of each call is served, the rest answered unprocessed.
    const event = await createChunkedEvent();
    const stub = new UnprocessedBatchesStub(clients.documents, () => 1);
    const { waits, policy } = fakeWaits(0.5);
    const store = storeOn(stub, policy);

    // Act
    const got = await store.get(event.tenantId, event.eventId);

    // Assess: base 50 ms × 2^(n-1), times the jitter's 0.5.
    expect(got?.payloadJson).toBe(event.payloadJson);
    expect(stub.batchSizes).toEqual([4, 3, 2, 1]);
    expect(waits).toEqual([25, 50, 100]);
  });

  it('gives up a read after 6 sends and answers UnavailableError with Retry-After', async () => {
    // Prepare: nothing is ever served.
    const event = await createChunkedEvent();
    const stub = new UnprocessedBatchesStub(clients.documents, () => 0);
    const { waits, policy } = fakeWaits(1);
    const store = storeOn(stub, policy);

    // Act
    const failure = await store.get(event.tenantId, event.eventId).catch((error: unknown) => error);

    // Assess: the default bound, 6 sends and 5 waits in between.
    expect(stub.batchSizes).toEqual([4, 4, 4, 4, 4, 4]);
    expect(waits).toEqual([50, 100, 200, 400, 800]);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as UnavailableError).headers['Retry-After']).toBe('1');
    expect((failure as UnavailableError).cause).toBeInstanceOf(UnprocessedItemsError);
  });

  it('resends the unprocessed chunk deletes of a delete until every chunk is gone', async () => {
    // Prepare
    const event = await createChunkedEvent();
    const stub = new UnprocessedBatchesStub(clients.documents, () => 1);
    const { waits, policy } = fakeWaits(0.5);
    const store = storeOn(stub, policy);

    // Act
    await store.delete(event.tenantId, event.eventId);

    // Assess
    expect(stub.batchSizes).toEqual([4, 3, 2, 1]);
    expect(waits).toEqual([25, 50, 100]);
    for (const index of [0, 1, 2, 3]) expect(await chunkExists(event, index)).toBe(false);
  });

  it('gives up a delete at the bound, with waits capped at maxDelayMs, and answers UnavailableError', async () => {
    // Prepare: nothing is ever served; a bound of 8 sends reaches the 1 s cap.
    const event = await createChunkedEvent();
    const stub = new UnprocessedBatchesStub(clients.documents, () => 0);
    const { waits, policy } = fakeWaits(1);
    const store = storeOn(stub, { ...policy, maxAttempts: 8 });

    // Act
    const failure = await store.delete(event.tenantId, event.eventId).catch((error: unknown) => error);

    // Assess: the event is gone; its chunks stay for their TTL to remove.
    expect(stub.batchSizes).toEqual([4, 4, 4, 4, 4, 4, 4, 4]);
    expect(waits).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as UnavailableError).cause).toBeInstanceOf(UnprocessedItemsError);
    expect(await store.get(event.tenantId, event.eventId)).toBeUndefined();
    expect(await chunkExists(event, 0)).toBe(true);
  });
});
