import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  type ConsumeErrorContext,
  type ConsumeHandler,
  type ConsumeOptions,
  consume,
  createTriggersClient,
  type Event,
  type TriggersClient,
} from '../../sdk/src/index';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

// The SDK's lease helpers and consume() end to end, over HTTP, against the real app on a real
// SQLite store. The app runs in this process (createTestApp), listening on a port, so that the
// tests move the server's clock (FakeClock) to expire leases and end nack delays instead of
// sleeping through them: leases here are 30 s long in server time and no test waits for one.
// The worker that is killed mid-handler is a process of its own (kill -9), as a crashed
// worker would be. Long polls wait real time: consumers here wait 1 s per lease.

const ROOT = path.resolve(__dirname, '../..');
/** Deliveries before an event is dead, on this app (TRIGGERS_MAX_DELIVERIES). */
const MAX_DELIVERIES = 3;

interface Running {
  stop: AbortController;
  done: Promise<void>;
  errors: { error: unknown; context: ConsumeErrorContext }[];
}

describe('consume and leases against the real server', () => {
  let t: TestApp;
  let server: http.Server;
  let baseUrl: string;
  let triggers: TriggersClient;
  const running: Running[] = [];
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    t = await createTestApp({ maxDeliveries: MAX_DELIVERIES });
    server = http.createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    triggers = createTriggersClient({ baseUrl, apiKey: DEV_KEY, timeoutMs: 10_000 });
  });

  afterEach(async () => {
    for (const consumer of running.splice(0)) consumer.stop.abort();
    for (const worker of workers.splice(0)) worker.kill('SIGKILL');
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  /** A consumer on its own client, as another worker would be; stopped after each test. */
  function start(handler: ConsumeHandler, options: Partial<ConsumeOptions> = {}): Running {
    const stop = new AbortController();
    const errors: Running['errors'] = [];
    const client = createTriggersClient({ baseUrl, apiKey: DEV_KEY, timeoutMs: 10_000 });
    const done = consume(handler, {
      client,
      signal: stop.signal,
      wait: 1,
      onError: (error, context) => errors.push({ error, context }),
      ...options,
    });
    const consumer = { stop, done, errors };
    running.push(consumer);
    return consumer;
  }

  async function createEvents(source: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let from = 0; from < count; from += 100) {
      const items = Array.from({ length: Math.min(100, count - from) }, (_, i) => ({
        source,
        event_type: 'consume.e2e',
        payload: { n: from + i },
      }));
      const result = await triggers.events.createMany(items);
      expect(result.failed).toEqual([]);
      ids.push(...result.successful.map((item) => item.event_id));
    }
    return ids;
  }

  async function listAll(params: Parameters<TriggersClient['events']['list']>[0]): Promise<Event[]> {
    const events: Event[] = [];
    for await (const event of triggers.events.list(params)) events.push(event);
    return events;
  }

  it('has two consumers on one inbox handle 1,000 events exactly once between them, and ack each', async () => {
    // Prepare: both consumers are waiting on the empty inbox before the events arrive
    const source = `two-consumers-${randomUUID()}`;
    const handledBy = new Map<string, string[]>();
    const handler =
      (name: string): ConsumeHandler =>
      async (event) => {
        handledBy.set(event.event_id, [...(handledBy.get(event.event_id) ?? []), name]);
        await new Promise((resolve) => setImmediate(resolve));
      };
    const a = start(handler('a'), { concurrency: 8, filter: { source } });
    const b = start(handler('b'), { concurrency: 8, filter: { source } });

    // Act
    const ids = await createEvents(source, 1_000);
    await until(async () => (await countByStatus(source, 'acknowledged')) === 1_000, 60_000);
    a.stop.abort();
    b.stop.abort();
    await Promise.all([a.done, b.done]);

    // Assess
    const handlings = [...handledBy.values()];
    const twice = handlings.filter((names) => names.length > 1).length;
    const byA = handlings.filter((names) => names[0] === 'a').length;
    const byB = handlings.filter((names) => names[0] === 'b').length;
    console.log(
      `SDK consume e2e: 1000 events, two consumers of 8: a handled ${byA}, b handled ${byB}, ` +
        `${twice} handled twice, ${1_000 - handledBy.size} never`,
    );
    expect(twice).toBe(0);
    expect([...handledBy.keys()].sort()).toEqual([...ids].sort());
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    expect([...a.errors, ...b.errors]).toEqual([]);
    const acked = await listAll({ source, status: 'acknowledged', limit: 100 });
    expect(acked).toHaveLength(1_000);
    expect(acked.every((event) => event.delivery_count === 1)).toBe(true);
    expect(await listAll({ source, status: 'pending' })).toEqual([]);
  }, 120_000);

  it('has a worker killed mid-handler lose its events to another consumer once their lease ran out', async () => {
    // Prepare: a worker process takes the 5 events and dies (kill -9) in their handlers
    const source = `killed-${randomUUID()}`;
    const ids = await createEvents(source, 5);
    const worker = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'consume-worker.ts'), baseUrl, source, '30'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    workers.push(worker);
    let output = '';
    worker.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    worker.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    await until(
      async () => (output.match(/^handling /gm) ?? []).length === 5,
      30_000,
      () => output,
    );
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGKILL');
    await exited;
    const whileLeased = await triggers.inbox.lease({ source, limit: 10 });
    const handled: string[] = [];

    // Act: the server's clock passes the worker's 30 s leases; another consumer comes
    t.clock.advance(31_000);
    const survivor = start(
      async (event) => {
        handled.push(event.event_id);
      },
      { filter: { source } },
    );
    await until(async () => (await countByStatus(source, 'acknowledged')) === 5);
    survivor.stop.abort();
    await survivor.done;

    // Assess
    expect(
      output
        .match(/^handling (\S+)$/gm)
        ?.map((line) => line.slice(9))
        .sort(),
    ).toEqual([...ids].sort());
    expect(whileLeased.events).toEqual([]);
    expect([...handled].sort()).toEqual([...ids].sort());
    expect(survivor.errors).toEqual([]);
    for (const id of ids) {
      expect(await triggers.events.get(id)).toMatchObject({ status: 'acknowledged', delivery_count: 2 });
    }
  }, 60_000);

  it(`makes a poison event dead after ${MAX_DELIVERIES} deliveries, each nacked with a longer delay`, async () => {
    // Prepare
    const source = `poison-${randomUUID()}`;
    const [poisonId] = await createEvents(source, 1);
    const deliveries: number[] = [];
    const consumer = start(
      async (event) => {
        deliveries.push(event.delivery_count);
        throw new Error(`cannot handle ${event.event_id}`);
      },
      { filter: { source } },
    );

    // Act: after each nack, the server's clock passes the nack's delay (1 s, then 2 s)
    const seen: Event[] = [];
    for (let delivery = 1; delivery <= MAX_DELIVERIES; delivery += 1) {
      await until(async () => {
        const event = await triggers.events.get(poisonId as string);
        return event.delivery_count === delivery && (event.leased_until === null || event.status === 'dead');
      });
      seen.push(await triggers.events.get(poisonId as string));
      t.clock.advance(2 ** (delivery - 1) * 1000);
    }
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(deliveries).toEqual([1, 2, 3]);
    expect(seen.map((event) => event.status)).toEqual(['pending', 'pending', 'dead']);
    const nacks = consumer.errors.map(({ context }) => context.operation);
    expect(nacks).toEqual(['handler', 'handler', 'handler']);
    expect((await listAll({ source, status: 'dead' })).map((event) => event.event_id)).toEqual([poisonId]);
    expect((await triggers.inbox.lease({ source })).events).toEqual([]);
  }, 60_000);

  it('brings a dead event back with redeliver, for a consumer to handle and ack', async () => {
    // Prepare: an event made dead by one delivery too many
    const source = `redeliver-${randomUUID()}`;
    const [id] = await createEvents(source, 1);
    for (let delivery = 1; delivery <= MAX_DELIVERIES; delivery += 1) {
      const [leased] = (await triggers.inbox.lease({ source })).events;
      expect(leased?.event_id).toBe(id);
      await triggers.events.nack(id as string, { leaseId: leased?.lease.lease_id as string });
    }
    const dead = await triggers.events.get(id as string);
    const handled: number[] = [];

    // Act
    const redelivered = await triggers.events.redeliverMany([id as string]);
    const consumer = start(
      async (event) => {
        handled.push(event.delivery_count);
      },
      { filter: { source } },
    );
    await until(async () => (await countByStatus(source, 'acknowledged')) === 1);
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(dead).toMatchObject({ status: 'dead', delivery_count: MAX_DELIVERIES });
    expect(redelivered).toMatchObject({ successful: [{ event_id: id, status: 'pending' }], failed: [] });
    expect(handled).toEqual([1]);
    expect(consumer.errors).toEqual([]);
  });

  it('keeps a running handler’s lease alive past its visibility timeout by extending it', async () => {
    // Prepare: 2 s leases (server time), extended every 50 ms of real time
    const source = `extend-${randomUUID()}`;
    const [id] = await createEvents(source, 1);
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    const consumer = start(
      async () => {
        started = true;
        await released;
      },
      { filter: { source }, visibilityTimeout: 2, extendIntervalMs: 50 },
    );
    await until(async () => started);
    const leasedAt = t.clock.now;

    // Act: the server's clock moves 1.5 s at a time, three times, while extensions go on
    for (let step = 1; step <= 3; step += 1) {
      t.clock.advance(1_500);
      const extendedTo = new Date(t.clock.now + 2_000).toISOString();
      await until(async () => (await triggers.events.get(id as string)).leased_until === extendedTo);
    }
    const otherLease = await triggers.inbox.lease({ source });
    release();
    await until(async () => (await countByStatus(source, 'acknowledged')) === 1);
    consumer.stop.abort();
    await consumer.done;

    // Assess: 4.5 s after a 2 s lease was taken, no one else could lease the event
    expect(t.clock.now - leasedAt).toBe(4_500);
    expect(otherLease.events).toEqual([]);
    expect(await triggers.events.get(id as string)).toMatchObject({
      status: 'acknowledged',
      delivery_count: 1,
    });
    expect(consumer.errors).toEqual([]);
  });

  it('retries an ack whose answer was lost, and the server answers the retry with the first ack', async () => {
    // Prepare: a fetch that drops the first ack answer after the server sent it (a network fault)
    const source = `lost-ack-${randomUUID()}`;
    const [id] = await createEvents(source, 1);
    const lostAnswers: unknown[] = [];
    const attempts: number[] = [];
    const droppingFirstAckAnswer = async (input: string | URL | Request, init?: RequestInit) => {
      const request = new Request(input, init);
      const response = await fetch(request);
      if (request.url.endsWith('/ack')) {
        attempts.push(response.status);
        if (lostAnswers.length === 0) {
          lostAnswers.push(await response.json());
          throw new TypeError('fetch failed');
        }
      }
      return response;
    };
    const flaky = createTriggersClient({ baseUrl, apiKey: DEV_KEY, fetch: droppingFirstAckAnswer });
    const [leased] = (await flaky.inbox.lease({ source })).events;

    // Act
    const acked = await flaky.events.ack(id as string, { leaseId: leased?.lease.lease_id as string });

    // Assess
    expect(attempts).toEqual([200, 200]);
    expect(lostAnswers[0]).toMatchObject({ event_id: id, status: 'acknowledged' });
    expect(acked.acknowledged_at).toBe((lostAnswers[0] as { acknowledged_at: string }).acknowledged_at);
    expect(await triggers.events.get(id as string)).toMatchObject({
      status: 'acknowledged',
      delivery_count: 1,
    });
  });

  /** How many events of `source` have this status (GET /v1/events, which changes nothing). */
  async function countByStatus(source: string, status: Event['status']): Promise<number> {
    return (await listAll({ source, status, limit: 100 })).length;
  }
});

/** Resolves once `condition` holds (checked every 20 ms), or fails the test after `timeoutMs`. */
async function until(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  describe: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`the condition never held ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
