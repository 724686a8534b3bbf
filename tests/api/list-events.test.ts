import request, { type Response } from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const iso = (ms: number): string => new Date(ms).toISOString();
const SECOND = 1000;

describe('GET /v1/events (the polling view)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ maxDeliveries: 1 });
  });
  afterEach(() => t.close());

  /** Creates events 1 ms apart (every third in the same millisecond as the one before). */
  const seed = async (count: number, make: (i: number) => object = () => ({})): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      if (i % 3 !== 0) t.clock.advance(1);
      const res = await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', DEV_KEY)
          .send({ source: 'billing', event_type: 'order.created', payload: { i }, ...make(i) }),
        201,
      );
      ids.push(res.body.event_id);
    }
    return ids;
  };
  const list = (query: Record<string, string | number>, status = 200, key = DEV_KEY): Promise<Response> =>
    checked(request(t.app).get('/v1/events').query(query).set('X-API-Key', key), status);
  const ids = (res: Response): string[] =>
    (res.body.events as Array<{ event_id: string }>).map((e) => e.event_id);
  /** The ids in list order: created_at, then event_id (UUID v7 ids of one millisecond differ by their random part). */
  const ordered = async (all: string[]): Promise<string[]> => {
    const res = await list({ order: 'asc', limit: 100 });
    return ids(res).filter((id) => all.includes(id));
  };
  /** Every page of a query, following next_cursor. */
  const pages = async (query: Record<string, string | number>): Promise<string[][]> => {
    const seen: string[][] = [];
    let cursor: string | undefined;
    do {
      const res = await list(cursor ? { ...query, cursor } : query);
      expect(res.body.events.length).toBeGreaterThan(0);
      seen.push(ids(res));
      cursor = res.body.pagination.next_cursor ?? undefined;
      expect(cursor !== undefined).toBe(res.body.pagination.has_more);
    } while (cursor && seen.length < 50);
    return seen;
  };

  it('lists every event whatever its status, newest first by default, with a default limit of 50', async () => {
    // Prepare: the oldest ends dead (one delivery allowed here), the next leased, the third acked
    const [dead, leased, acked, pending] = (await seed(4)) as [string, string, string, string];
    await checked(request(t.app).post(`/v1/events/${acked}/ack`).set('X-API-Key', DEV_KEY), 200);
    const lease = async (): Promise<{ event_id: string; lease: { lease_id: string } }> =>
      (
        await checked(
          request(t.app).post('/v1/inbox/lease').set('X-API-Key', DEV_KEY).send({ limit: 1 }),
          200,
        )
      ).body.events[0];
    const first = await lease();
    await checked(
      request(t.app)
        .post(`/v1/events/${first.event_id}/nack`)
        .set('X-API-Key', DEV_KEY)
        .send({ lease_id: first.lease.lease_id }),
      200,
    );
    const second = await lease();

    // Act
    const res = await list({});

    // Assess
    const seen = Object.fromEntries(
      (res.body.events as Array<{ event_id: string; status: string; leased_until: string | null }>).map(
        (e) => [e.event_id, [e.status, e.leased_until !== null]],
      ),
    );
    expect([first.event_id, second.event_id]).toEqual([dead, leased]);
    expect(ids(res)).toEqual((await ordered([dead, leased, acked, pending])).reverse());
    expect(seen).toEqual({
      [dead]: ['dead', false],
      [leased]: ['pending', true],
      [acked]: ['acknowledged', false],
      [pending]: ['pending', false],
    });
    expect(res.body.pagination).toEqual({ limit: 50, next_cursor: null, has_more: false });
  });

  it('pages newest first and oldest first with cursors: every event once, in order', async () => {
    // Prepare
    const all = await seed(11);
    const asc = await ordered(all);

    // Act
    const newest = await pages({ limit: 3 });
    const oldest = await pages({ limit: 4, order: 'asc' });

    // Assess
    expect(newest.map((page) => page.length)).toEqual([3, 3, 3, 2]);
    expect(newest.flat()).toEqual([...asc].reverse());
    expect(oldest.flat()).toEqual(asc);
  });

  it('filters by status, source, event_type, created_after and created_before before the limit', async () => {
    // Prepare
    const start = t.clock.now;
    const all = await seed(12, (i) => ({
      source: i % 2 === 0 ? 'shop' : 'billing',
      event_type: `t${i % 3}`,
    }));
    await checked(request(t.app).post(`/v1/events/${all[0]}/ack`).set('X-API-Key', DEV_KEY), 200);
    await checked(request(t.app).post(`/v1/events/${all[6]}/ack`).set('X-API-Key', DEV_KEY), 200);
    const asc = await ordered(all);
    const index = (id: string) => all.indexOf(id);

    // Act
    const acked = await list({ status: 'acknowledged', order: 'asc' });
    const shopT0 = await pages({ source: 'shop', event_type: 't0', limit: 1 });
    const window = await list({
      created_after: iso(start + 2),
      created_before: iso(start + 5),
      order: 'asc',
    });

    // Assess
    expect(ids(acked)).toEqual(asc.filter((id) => [0, 6].includes(index(id))));
    expect(shopT0.flat()).toEqual(asc.filter((id) => index(id) % 2 === 0 && index(id) % 3 === 0).reverse());
    // Created at start + 0, 1, 2, 2, 3, 4, 4, 5...: strictly between +2 and +5 are i = 4, 5, 6.
    expect(
      ids(window)
        .map(index)
        .sort((x, y) => x - y),
    ).toEqual([4, 5, 6]);
  });

  it('changes nothing: listed events are neither leased nor acknowledged', async () => {
    // Prepare
    const all = await seed(3);

    // Act
    await list({});
    await list({ status: 'pending' });

    // Assess
    const leased = await checked(
      request(t.app).post('/v1/inbox/lease').set('X-API-Key', DEV_KEY).send({}),
      200,
    );
    expect(leased.body.events.map((e: { event_id: string }) => e.event_id).sort()).toEqual([...all].sort());
  });

  it('refuses a cursor used with other filters, another order, another tenant or on the inbox: 400 INVALID_CURSOR', async () => {
    // Prepare
    await seed(3);
    const cursor = (await list({ limit: 1, source: 'billing' })).body.pagination.next_cursor as string;
    const inboxCursor = (
      await checked(request(t.app).get('/v1/inbox?limit=1').set('X-API-Key', DEV_KEY), 200)
    ).body.pagination.next_cursor as string;
    const other = await t.createKey({ tenant: 'acme' });

    // Act
    const refusals = [
      await list({ limit: 1, cursor }, 400),
      await list({ limit: 1, source: 'billing', order: 'asc', cursor }, 400),
      await list({ limit: 1, source: 'billing', cursor }, 400, other),
      await list({ limit: 1, cursor: inboxCursor }, 400),
      await checked(
        request(t.app)
          .get('/v1/inbox')
          .query({ limit: 1, source: 'billing', cursor })
          .set('X-API-Key', DEV_KEY),
        400,
      ),
    ];
    const accepted = await list({ limit: 1, source: 'billing', cursor });

    // Assess
    expect(refusals.map((res) => res.body.error.code)).toEqual(Array(5).fill('INVALID_CURSOR'));
    expect(accepted.body.events).toHaveLength(1);
  });

  it('shows a tenant only its own events, and answers 403 to a key without events:read', async () => {
    // Prepare
    await seed(2);
    const other = await t.createKey({ tenant: 'acme' });
    const writer = await t.createKey({ tenant: 'local', scopes: ['events:write', 'events:ack'] });

    // Act
    const theirs = await list({}, 200, other);
    const forbidden = await list({}, 403, writer);

    // Assess
    expect(theirs.body.events).toEqual([]);
    expect(forbidden.body.error.details).toEqual({ required_scope: 'events:read' });
  });

  it.each([
    ['status=gone', { status: 'gone' }],
    ['order=random', { order: 'random' }],
    ['limit=0', { limit: 0 }],
    ['limit=101', { limit: 101 }],
    ['created_after=yesterday', { created_after: 'yesterday' }],
    ['priority=high (not a filter of this list)', { priority: 'high' }],
  ])('refuses %s with 400 VALIDATION_ERROR', async (_name, query) => {
    const res = await list(query as Record<string, string | number>, 400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('leaves out events past expires_at', async () => {
    // Prepare
    await seed(1);
    t.clock.advance(7 * 24 * 3600 * SECOND);

    // Act
    const res = await list({});

    // Assess
    expect(res.body.events).toEqual([]);
  });
});
