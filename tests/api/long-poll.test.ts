import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request, { type Response } from 'supertest';
import type { AppConfig } from '../../server/src/app';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';

const SECOND = 1000;
/**
 * Longer than any test here may run: with it, only the in-process signal can answer a waiting
 * request, so a test that passes shows the signal did.
 */
const NEVER_POLLS = 600_000;

const event = (fields: object = {}) => ({
  source: 'billing',
  event_type: 'order.created',
  payload: {},
  ...fields,
});

describe('Long polling (wait on lease and on the inbox)', () => {
  let t: TestApp;
  const start = async (overrides: Partial<AppConfig>) => {
    t = await createTestApp(overrides);
  };
  afterEach(() => t.close());

  const ingest = async (fields: object = {}): Promise<string> =>
    (await checked(request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(event(fields)), 201)).body
      .event_id;
  const lease = (body: object, key = DEV_KEY): Promise<Response> =>
    checked(request(t.app).post('/v1/inbox/lease').set('X-API-Key', key).send(body));
  const inbox = (query: Record<string, string | number>): Promise<Response> =>
    checked(request(t.app).get('/v1/inbox').query(query).set('X-API-Key', DEV_KEY));
  /** Whether a request has answered yet, without waiting for it. */
  const settled = (promise: Promise<unknown>): Promise<boolean> =>
    Promise.race([
      promise.then(() => true),
      new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
    ]);
  const eventIds = (res: Response): string[] =>
    (res.body.events as Array<{ event_id: string }>).map((item) => item.event_id);

  it('answers a waiting lease as soon as an event is ingested on this server, with no poll to notice it', async () => {
    // Prepare
    await start({ longPollIntervalMs: NEVER_POLLS });
    const waiting = lease({ wait: 20 });
    await until(() => t.longPoll.waiting() === 1, 'the lease waits');

    // Act
    const id = await ingest();

    // Assess
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(eventIds(res)).toEqual([id]);
    expect(res.body.events[0]).toMatchObject({ delivery_count: 1, lease: { lease_id: expect.any(String) } });
    expect(t.longPoll.waiting()).toBe(0);
  });

  it('wakes a waiting lease on a bulk ingest, on a redeliver, and on a nack without delay', async () => {
    // Prepare
    await start({ longPollIntervalMs: NEVER_POLLS });
    const wakeBy = async (act: () => Promise<unknown>): Promise<Response> => {
      const waiting = lease({ wait: 20, visibility_timeout: 600 });
      await until(() => t.longPoll.waiting() === 1, 'the lease waits');
      await act();
      return waiting;
    };

    // Act
    const byBulk = await wakeBy(() =>
      checked(
        request(t.app)
          .post('/v1/events/bulk')
          .set('X-API-Key', DEV_KEY)
          .send({ items: [event()] }),
        200,
      ),
    );
    const [leased] = byBulk.body.events as Array<{ event_id: string; lease: { lease_id: string } }>;
    const id = leased?.event_id as string;
    const byNack = await wakeBy(() =>
      checked(
        request(t.app)
          .post(`/v1/events/${id}/nack`)
          .set('X-API-Key', DEV_KEY)
          .send({ lease_id: leased?.lease.lease_id }),
        200,
      ),
    );
    await checked(request(t.app).post(`/v1/events/${id}/ack`).set('X-API-Key', DEV_KEY), 200);
    const byRedeliver = await wakeBy(() =>
      checked(request(t.app).post(`/v1/events/${id}/redeliver`).set('X-API-Key', DEV_KEY), 200),
    );

    // Assess
    expect([eventIds(byBulk), eventIds(byNack), eventIds(byRedeliver)]).toEqual([[id], [id], [id]]);
    expect(byRedeliver.body.events[0].delivery_count).toBe(1);
  });

  it('answers events: [] once wait has run out on the app clock, and not before', async () => {
    // Prepare
    await start({ longPollIntervalMs: 10 });
    const waiting = lease({ wait: 5 });
    await until(() => t.longPoll.waiting() === 1, 'the lease waits');
    // Several polls of 10 ms go by: real time passes, the app's clock does not.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const early = await settled(waiting);

    // Act
    t.clock.advance(5 * SECOND);

    // Assess
    const res = await waiting;
    expect(early).toBe(false);
    expect([res.status, res.body.events]).toEqual([200, []]);
    expect(t.longPoll.waiting()).toBe(0);
  });

  it('notices, by polling the store, a lease that ran out while it waited', async () => {
    // Prepare: worker A holds the only event for 10 s; worker B waits for one
    await start({ longPollIntervalMs: 10 });
    const id = await ingest();
    await checked(
      request(t.app).post('/v1/inbox/lease').set('X-API-Key', DEV_KEY).send({ visibility_timeout: 10 }),
      200,
    );
    const waiting = lease({ wait: 20 });
    await until(() => t.longPoll.waiting() === 1, 'worker B waits');

    // Act
    t.clock.advance(10 * SECOND);

    // Assess
    const res = await waiting;
    expect(eventIds(res)).toEqual([id]);
    expect(res.body.events[0].delivery_count).toBe(2);
  });

  it('answers 429 RATE_LIMITED with Retry-After beyond TRIGGERS_MAX_WAITING_PER_KEY waits, yet serves what is available and other keys', async () => {
    // Prepare: key A waits twice (its bound), for events that will not come
    await start({ longPollIntervalMs: NEVER_POLLS, maxWaitingPerKey: 2 });
    const keyB = await t.createKey({ tenant: 'local' });
    const held = [
      lease({ wait: 20, event_type: 'never.sent' }),
      lease({ wait: 20, event_type: 'never.sent' }),
    ];
    await until(() => t.longPoll.waiting() === 2, 'key A waits twice');

    // Act
    const refused = await checked(
      request(t.app).post('/v1/inbox/lease').set('X-API-Key', DEV_KEY).send({ wait: 20 }),
      429,
    );
    const otherKey = lease({ wait: 20, event_type: 'never.sent' }, keyB);
    await until(() => t.longPoll.waiting() === 3, 'key B waits too');
    const id = await ingest();
    const available = await checked(
      request(t.app).post('/v1/inbox/lease').set('X-API-Key', DEV_KEY).send({ wait: 20 }),
      200,
    );

    // Assess
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(refused.headers['retry-after']).toBe('1');
    expect(eventIds(available)).toEqual([id]);
    t.shutdown.abort();
    expect((await Promise.all([...held, otherKey])).map((res) => res.body.events)).toEqual([[], [], []]);
  });

  it('holds a first inbox page that would be empty until an event is ingested', async () => {
    // Prepare
    await start({ longPollIntervalMs: NEVER_POLLS });
    const waiting = inbox({ wait: 20 });
    await until(() => t.longPoll.waiting() === 1, 'the inbox waits');

    // Act
    const id = await ingest();

    // Assess
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(eventIds(res)).toEqual([id]);
    expect(res.body.pagination).toEqual({ limit: 50, next_cursor: null, has_more: false });
  });

  it('never waits on an inbox page read with a cursor, even when it is empty', async () => {
    // Prepare: a first page of one event, then the only later event is leased
    await start({ longPollIntervalMs: NEVER_POLLS });
    await ingest();
    t.clock.advance(1);
    await ingest();
    const first = await inbox({ limit: 1 });
    await checked(request(t.app).post('/v1/inbox/lease').set('X-API-Key', DEV_KEY).send({}), 200);

    // Act
    const next = await inbox({ limit: 1, cursor: first.body.pagination.next_cursor, wait: 20 });

    // Assess
    expect(next.status).toBe(200);
    expect(next.body.events).toEqual([]);
  }, 10_000);

  it('answers waiting lease and inbox requests with nothing at shutdown instead of cutting them', async () => {
    // Prepare
    await start({ longPollIntervalMs: NEVER_POLLS });
    const waitingLease = lease({ wait: 20 });
    const waitingInbox = inbox({ wait: 20 });
    await until(() => t.longPoll.waiting() === 2, 'both wait');

    // Act
    t.shutdown.abort();

    // Assess
    const [leased, page] = await Promise.all([waitingLease, waitingInbox]);
    expect([leased.status, leased.body.events]).toEqual([200, []]);
    expect([page.status, page.body.events, page.body.pagination.has_more]).toEqual([200, [], false]);
    const later = await lease({ wait: 20 });
    expect([later.status, later.body.events]).toEqual([200, []]);
  });

  it('frees the waiting slot of a client that goes away', async () => {
    // Prepare: one waiting request allowed per key, held over a real socket
    await start({ longPollIntervalMs: NEVER_POLLS, maxWaitingPerKey: 1 });
    const server = http.createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new AbortController();
    const gone = fetch(`http://127.0.0.1:${port}/v1/inbox/lease`, {
      method: 'POST',
      headers: { 'X-API-Key': DEV_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ wait: 20 }),
      signal: client.signal,
    }).catch(() => 'aborted');
    await until(() => t.longPoll.waiting() === 1, 'the request waits');

    // Act
    client.abort();
    await gone;
    await until(() => t.longPoll.waiting() === 0, 'the slot is free');
    const next = lease({ wait: 20 });
    await until(() => t.longPoll.waiting() === 1, 'a new request waits');

    // Assess
    t.shutdown.abort();
    expect((await next).status).toBe(200);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each(['21', '-1', '1.5', 'soon'])(
    'refuses GET /v1/inbox?wait=%s with 400 VALIDATION_ERROR',
    async (wait) => {
      await start({});
      const res = await checked(request(t.app).get(`/v1/inbox?wait=${wait}`).set('X-API-Key', DEV_KEY), 400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    },
  );
});
