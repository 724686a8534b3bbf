import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const iso = (ms: number): string => new Date(ms).toISOString();

interface WireEvent {
  event_id: string;
  created_at: string;
  source: string;
  event_type: string;
  metadata: { priority: string };
}

describe('GET /v1/inbox', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  /** Creates events 1 ms apart (some share a millisecond) and returns their ids in creation order. */
  const seed = async (count: number, make: (i: number) => object = () => ({})) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      if (i % 3 !== 0) t.clock.advance(1);
      const res = await request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({ source: 'billing', event_type: 'order.created', payload: { i }, ...make(i) });
      expect(res.status).toBe(201);
      ids.push(res.body.event_id);
    }
    return ids;
  };
  const page = (query: Record<string, string | number>, status: number, key = DEV_KEY) =>
    checked(request(t.app).get('/v1/inbox').query(query).set('X-API-Key', key), status);
  const byOrder = (a: WireEvent, b: WireEvent) =>
    a.created_at === b.created_at
      ? a.event_id.localeCompare(b.event_id)
      : a.created_at.localeCompare(b.created_at);

  it('lists pending events oldest first (created_at, then event_id), with a default limit of 50', async () => {
    const ids = await seed(55);

    const res = await page({}, 200);

    expect(res.body.pagination).toMatchObject({ limit: 50, has_more: true });
    expect(res.body.events).toHaveLength(50);
    const events = res.body.events as WireEvent[];
    expect([...events].sort(byOrder)).toEqual(events);
    expect(new Set(events.map((e) => e.event_id))).toEqual(new Set(ids.slice(0, 50)));
  });

  it('pages with limit=3 while acking each page: every event seen once, in order', async () => {
    // Prepare
    const ids = await seed(20);
    const seen: WireEvent[] = [];
    let cursor: string | undefined;
    let pages = 0;

    // Act
    do {
      const res = await page(cursor ? { limit: 3, cursor } : { limit: 3 }, 200);
      expect(res.body.events.length).toBeGreaterThan(0);
      seen.push(...res.body.events);
      for (const event of res.body.events as WireEvent[]) {
        await request(t.app).post(`/v1/events/${event.event_id}/ack`).set('X-API-Key', DEV_KEY).expect(200);
      }
      cursor = res.body.pagination.next_cursor ?? undefined;
      expect(cursor !== undefined).toBe(res.body.pagination.has_more);
      pages += 1;
    } while (cursor && pages < 50);

    // Assess
    expect(seen.map((e) => e.event_id).sort()).toEqual([...ids].sort());
    expect(new Set(seen.map((e) => e.event_id)).size).toBe(20);
    expect([...seen].sort(byOrder)).toEqual(seen);
    expect(pages).toBe(7);
  });

  it('sets has_more false and next_cursor null on an exactly full last page', async () => {
    await seed(4);
    const first = await page({ limit: 2 }, 200);
    const second = await page({ limit: 2, cursor: first.body.pagination.next_cursor }, 200);
    expect(first.body.pagination.has_more).toBe(true);
    expect(second.body.events).toHaveLength(2);
    expect(second.body.pagination).toEqual({ limit: 2, next_cursor: null, has_more: false });
  });

  it('applies filters before the limit: a sparse match still fills pages, never empty with has_more', async () => {
    // Prepare: 1 in 10 events matches
    await seed(60, (i) => (i % 10 === 0 ? { source: 'rare', metadata: { priority: 'high' } } : {}));

    // Act
    const first = await page({ source: 'rare', limit: 4 }, 200);
    const second = await page({ source: 'rare', limit: 4, cursor: first.body.pagination.next_cursor }, 200);

    // Assess
    expect(first.body.events).toHaveLength(4);
    expect(first.body.pagination.has_more).toBe(true);
    expect(second.body.events).toHaveLength(2);
    expect(second.body.pagination.has_more).toBe(false);
    expect([...first.body.events, ...second.body.events].every((e: WireEvent) => e.source === 'rare')).toBe(
      true,
    );
  });

  it('filters by event_type, priority and a created_after/created_before window', async () => {
    const ids = await seed(9, (i) => ({
      event_type: i % 2 ? 'order.paid' : 'order.created',
      metadata: { priority: i < 3 ? 'low' : 'normal' },
    }));
    const all = (await page({ limit: 100 }, 200)).body.events as WireEvent[];
    const after = all[2]?.created_at as string;
    const before = all[7]?.created_at as string;

    const paid = await page({ event_type: 'order.paid' }, 200);
    const low = await page({ priority: 'low' }, 200);
    const window = await page({ created_after: after, created_before: before }, 200);

    expect(paid.body.events.map((e: WireEvent) => e.event_type)).toEqual(Array(4).fill('order.paid'));
    expect(low.body.events.map((e: WireEvent) => e.event_id)).toEqual(ids.slice(0, 3));
    for (const e of window.body.events as WireEvent[]) {
      expect(e.created_at > after && e.created_at < before).toBe(true);
    }
    expect(window.body.events.length).toBeGreaterThan(0);
  });

  it.each([
    ['equal to', 0],
    ['earlier than', -3_600_000],
  ])('answers 200 with no events when created_before is %s created_after', async (_name, offsetMs) => {
    // Prepare
    await seed(2);
    const after = t.clock.now;

    // Act
    const res = await page({ created_after: iso(after), created_before: iso(after + offsetMs) }, 200);

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.events).toEqual([]);
    expect(res.body.pagination.has_more).toBe(false);
  });

  it("filters on a source holding ( ) ! * ' whether or not the client percent-encodes them", async () => {
    // Prepare
    await seed(2, (i) => (i === 0 ? { source: "order(1)!*'" } : {}));

    // Act
    const raw = await checked(
      request(t.app).get("/v1/inbox?source=order(1)!*'").set('X-API-Key', DEV_KEY),
      200,
    );
    const encoded = await checked(
      request(t.app).get('/v1/inbox?source=order%281%29%21%2A%27').set('X-API-Key', DEV_KEY),
      200,
    );

    // Assess
    expect([raw.status, encoded.status]).toEqual([200, 200]);
    expect(raw.body.events.map((e: WireEvent) => e.source)).toEqual(["order(1)!*'"]);
    expect(encoded.body.events).toEqual(raw.body.events);
  });

  it('accepts created_after with its colons unencoded, as people type it', async () => {
    await seed(2);
    const res = await checked(
      request(t.app).get('/v1/inbox?created_after=2000-01-01T00:00:00.000Z').set('X-API-Key', DEV_KEY),
      200,
    );
    expect(res.status).toBe(200);
    expect(res.body.events).toHaveLength(2);
  });

  it('never shows expired events, whether or not they were swept', async () => {
    await seed(2);
    t.clock.advance(6 * 86_400_000);
    const fresh = await seed(1);
    t.clock.advance(86_400_000);

    const res = await page({}, 200);

    expect(res.body.events.map((e: WireEvent) => e.event_id)).toEqual(fresh);
  });

  describe('cursors', () => {
    it('answers 400 INVALID_CURSOR for garbage', async () => {
      for (const cursor of ['garbage', 'a.b', 'eyJ2IjoxfQ.AAAA', '....']) {
        const res = await page({ cursor }, 400);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('INVALID_CURSOR');
      }
    });

    it('answers 400 INVALID_CURSOR for a tampered cursor', async () => {
      await seed(3);
      const cursor = (await page({ limit: 1 }, 200)).body.pagination.next_cursor as string;
      const [body, signature] = cursor.split('.') as [string, string];
      const decoded = JSON.parse(Buffer.from(body, 'base64url').toString());
      const forged = Buffer.from(JSON.stringify({ ...decoded, c: 0 })).toString('base64url');
      const flipped = `${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;

      for (const bad of [`${forged}.${signature}`, flipped, `${body}.`, body]) {
        const res = await page({ limit: 1, cursor: bad }, 400);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('INVALID_CURSOR');
      }
    });

    it('answers 400 INVALID_CURSOR for a cursor used with other filters', async () => {
      await seed(3);
      const cursor = (await page({ limit: 1, source: 'billing' }, 200)).body.pagination.next_cursor as string;
      const res = await page({ limit: 1, cursor, source: 'other' }, 400);
      const unfiltered = await page({ limit: 1, cursor }, 400);
      expect(res.body.error.code).toBe('INVALID_CURSOR');
      expect(unfiltered.body.error.code).toBe('INVALID_CURSOR');
      expect((await page({ limit: 1, cursor, source: 'billing' }, 200)).status).toBe(200);
    });

    it('answers 400 INVALID_CURSOR for a cursor of another tenant', async () => {
      await seed(3);
      const cursor = (await page({ limit: 1 }, 200)).body.pagination.next_cursor as string;
      const other = await t.createKey({ tenant: 'tenant-b' });
      const res = await page({ limit: 1, cursor }, 400, other);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_CURSOR');
    });
  });

  it.each([
    ['limit=0', { limit: 0 }],
    ['limit=101', { limit: 101 }],
    ['limit=abc', { limit: 'abc' }],
    ['an unknown priority', { priority: 'urgent' }],
    ['a created_after that is not a date-time', { created_after: 'yesterday' }],
    ['an unknown parameter', { status: 'pending' }],
  ])('answers 400 VALIDATION_ERROR for %s', async (_name, query) => {
    const res = await page(query, 400);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});
