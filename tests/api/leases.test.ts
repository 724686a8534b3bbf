import request from 'supertest';
import type { AppConfig } from '../../server/src/app';
import type { Scope } from '../../server/src/store/key-store';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY } from '../helpers/test-app';

const iso = (ms: number): string => new Date(ms).toISOString();
const UNKNOWN_ID = '0193a0b0-0000-7000-8000-000000000000';
const SECOND = 1000;

interface LeasedWire {
  event_id: string;
  status: string;
  delivery_count: number;
  leased_until: string | null;
  lease: { lease_id: string; leased_until: string };
}

/** The app, and the calls every test here makes, each checked against the contract. */
async function leaseApp(overrides: Partial<AppConfig> = {}) {
  const t = await createTestApp(overrides);
  const ingest = async (fields: object = {}, key = DEV_KEY): Promise<string> => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', key)
        .send({ source: 'billing', event_type: 'order.created', payload: { n: 1 }, ...fields }),
      201,
    );
    return res.body.event_id as string;
  };
  /** Creates `count` events 1 ms apart, oldest first. */
  const ingestMany = async (count: number, fields: object = {}): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      t.clock.advance(1);
      ids.push(await ingest(fields));
    }
    return ids;
  };
  const post = (path: string, body: object | undefined, status: number, key = DEV_KEY) => {
    const test = request(t.app).post(path).set('X-API-Key', key);
    return checked(body === undefined ? test : test.send(body), status);
  };
  const lease = async (body: object | undefined, key = DEV_KEY): Promise<LeasedWire[]> =>
    (await post('/v1/inbox/lease', body, 200, key)).body.events as LeasedWire[];
  const get = async (id: string) =>
    (await checked(request(t.app).get(`/v1/events/${id}`).set('X-API-Key', DEV_KEY), 200)).body;
  const inboxIds = async (): Promise<string[]> => {
    const res = await checked(request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY), 200);
    return (res.body.events as Array<{ event_id: string }>).map((event) => event.event_id);
  };
  return { t, ingest, ingestMany, post, lease, get, inboxIds };
}

type LeaseApp = Awaited<ReturnType<typeof leaseApp>>;

describe('POST /v1/inbox/lease', () => {
  let a: LeaseApp;
  beforeEach(async () => {
    a = await leaseApp();
  });
  afterEach(() => a.t.close());

  it('leases available events oldest first, each with a lease id, leased_until now + visibility_timeout and delivery_count 1', async () => {
    // Prepare
    const ids = await a.ingestMany(3);

    // Act
    const events = await a.lease({ limit: 2, visibility_timeout: 45 });

    // Assess
    const until = iso(a.t.clock.now + 45 * SECOND);
    expect(events.map((e) => e.event_id)).toEqual(ids.slice(0, 2));
    for (const event of events) {
      expect(event).toMatchObject({
        status: 'pending',
        delivery_count: 1,
        leased_until: until,
        lease: { leased_until: until },
      });
    }
    expect(events[0]?.lease.lease_id).not.toBe(events[1]?.lease.lease_id);
    expect(await a.get(ids[0] as string)).toMatchObject({ delivery_count: 1, leased_until: until });
  });

  it('leases up to 10 events for 30 seconds when sent no body at all', async () => {
    // Prepare
    await a.ingestMany(12);

    // Act
    const events = await a.lease(undefined);

    // Assess
    expect(events).toHaveLength(10);
    expect(new Set(events.map((e) => e.leased_until))).toEqual(new Set([iso(a.t.clock.now + 30 * SECOND)]));
  });

  it('never hands out a leased event again while its lease runs, and hides it from the inbox', async () => {
    // Prepare
    const [first, second] = await a.ingestMany(2);
    await a.lease({ limit: 1, visibility_timeout: 60 });
    a.t.clock.advance(59 * SECOND);

    // Act
    const again = await a.lease({});

    // Assess
    expect(again.map((e) => e.event_id)).toEqual([second]);
    expect(await a.inboxIds()).toEqual([]);
    expect((await a.get(first as string)).status).toBe('pending');
  });

  it('hands an event out again once its lease has run out (a clock jump), with a new lease and delivery_count 2', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [first] = await a.lease({ visibility_timeout: 30 });
    a.t.clock.advance(30 * SECOND);

    // Act
    const inbox = await a.inboxIds();
    const [second] = await a.lease({ visibility_timeout: 10 });

    // Assess
    expect(inbox).toEqual([id]);
    expect(second).toMatchObject({
      event_id: id,
      delivery_count: 2,
      leased_until: iso(a.t.clock.now + 10 * SECOND),
    });
    expect(second?.lease.lease_id).not.toBe(first?.lease.lease_id);
  });

  it('leases only the events that match source, event_type and priority', async () => {
    // Prepare
    await a.ingest({ source: 'shop' });
    await a.ingest({ event_type: 'order.paid' });
    await a.ingest({ metadata: { priority: 'high' } });
    const match = await a.ingest({
      source: 'shop',
      event_type: 'order.paid',
      metadata: { priority: 'high' },
    });

    // Act
    const events = await a.lease({ source: ' shop ', event_type: 'order.paid', priority: 'high' });

    // Assess
    expect(events.map((e) => e.event_id)).toEqual([match]);
  });

  it('answers events: [] at once when nothing is available and wait is 0', async () => {
    // Prepare
    await a.ingestMany(1);
    await a.lease({});

    // Act
    const events = await a.lease({ wait: 0 });

    // Assess
    expect(events).toEqual([]);
  });

  it('gives each event to exactly one of 10 concurrent leases', async () => {
    // Prepare
    const ids = await a.ingestMany(30);

    // Act
    const answers = await Promise.all(Array.from({ length: 10 }, () => a.lease({ limit: 5 })));

    // Assess
    const leased = answers.flatMap((events) => events.map((e) => e.event_id));
    expect(leased.sort()).toEqual([...ids].sort());
  });

  it.each<[Scope[], string]>([
    [['events:read', 'events:write'], 'events:ack'],
    [['events:ack', 'events:write'], 'events:read'],
  ])(
    'answers 403 FORBIDDEN to a key with only %j: leasing needs events:read and events:ack',
    async (scopes, missing) => {
      // Prepare
      const key = await a.t.createKey({ tenant: 'acme', scopes });

      // Act
      const res = await a.post('/v1/inbox/lease', {}, 403, key);

      // Assess
      expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', details: { required_scope: missing } });
    },
  );

  it.each([
    [{ limit: 0 }],
    [{ limit: 101 }],
    [{ limit: 1.5 }],
    [{ visibility_timeout: 0 }],
    [{ visibility_timeout: 43_201 }],
    [{ wait: -1 }],
    [{ wait: 21 }],
    [{ wait: '5' }],
    [{ priority: 'urgent' }],
    [{ source: '' }],
    [{ visibility: 30 }],
  ])('refuses %j with 400 VALIDATION_ERROR', async (body) => {
    const res = await a.post('/v1/inbox/lease', body, 400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('Acknowledging a leased event', () => {
  let a: LeaseApp;
  beforeEach(async () => {
    a = await leaseApp();
  });
  afterEach(() => a.t.close());

  it('acks with the latest lease id, and a retry with the same lease id answers 200 with the first acknowledged_at', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [leased] = await a.lease({});
    const leaseId = leased?.lease.lease_id as string;
    const first = await a.post(`/v1/events/${id}/ack`, { lease_id: leaseId }, 200);
    a.t.clock.advance(5 * SECOND);

    // Act
    const retry = await a.post(`/v1/events/${id}/ack`, { lease_id: leaseId }, 200);

    // Assess
    expect(retry.body).toMatchObject({ event_id: id, status: 'acknowledged' });
    expect(retry.body.acknowledged_at).toBe(first.body.acknowledged_at);
  });

  it('answers 409 CONFLICT lease_mismatch, with the current status, to a lease that is no longer the latest', async () => {
    // Prepare: worker A's lease runs out and worker B leases the event
    const [id] = await a.ingestMany(1);
    const [stale] = await a.lease({ visibility_timeout: 5 });
    a.t.clock.advance(5 * SECOND);
    await a.lease({});

    // Act
    const res = await a.post(`/v1/events/${id}/ack`, { lease_id: stale?.lease.lease_id }, 409);

    // Assess
    expect(res.body.error).toMatchObject({
      code: 'CONFLICT',
      details: { reason: 'lease_mismatch', current_status: 'pending' },
    });
    expect((await a.get(id as string)).status).toBe('pending');
  });

  it('answers 409 CONFLICT with the current status to a lease id on an event acked by another lease', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [leased] = await a.lease({});
    await a.post(`/v1/events/${id}/ack`, {}, 200);

    // Act
    const res = await a.post(`/v1/events/${id}/ack`, { lease_id: 'another-lease' }, 409);

    // Assess
    expect(res.body.error.details).toMatchObject({ current_status: 'acknowledged' });
    expect(leased?.lease.lease_id).not.toBe('another-lease');
  });

  it('acks a leased event without a lease id, and an expired lease still acks while no one leased the event since', async () => {
    // Prepare
    const [first, second] = await a.ingestMany(2);
    const events = await a.lease({ visibility_timeout: 5 });
    a.t.clock.advance(60 * SECOND);

    // Act
    await a.post(`/v1/events/${first}/ack`, undefined, 200);
    const late = await a.post(`/v1/events/${second}/ack`, { lease_id: events[1]?.lease.lease_id }, 200);

    // Assess
    expect(late.body.acknowledged_at).toBe(iso(a.t.clock.now));
    expect(await a.lease({})).toEqual([]);
  });

  it('refuses a lease_id that is not a lease id, and unknown fields, with 400', async () => {
    const [id] = await a.ingestMany(1);
    await a.post(`/v1/events/${id}/ack`, { lease_id: 'not a lease id!' }, 400);
    await a.post(`/v1/events/${id}/ack`, { lease_id: 'x'.repeat(65) }, 400);
    await a.post(`/v1/events/${id}/ack`, { lease: 'abc' }, 400);
    expect((await a.get(id as string)).status).toBe('pending');
  });
});

describe('POST /v1/events/{event_id}/nack', () => {
  let a: LeaseApp;
  beforeEach(async () => {
    a = await leaseApp({ maxDeliveries: 2 });
  });
  afterEach(() => a.t.close());

  it('ends the lease: the event is available again at once, its delivery_count kept', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [leased] = await a.lease({ visibility_timeout: 600 });

    // Act
    const res = await a.post(`/v1/events/${id}/nack`, { lease_id: leased?.lease.lease_id }, 200);

    // Assess
    expect(res.body).toMatchObject({
      event_id: id,
      status: 'pending',
      delivery_count: 1,
      visible_at: iso(a.t.clock.now),
    });
    expect(await a.get(id as string)).toMatchObject({ leased_until: null, delivery_count: 1 });
    expect(await a.inboxIds()).toEqual([id]);
  });

  it('with a delay, keeps the event from the inbox and from leases until visible_at', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [leased] = await a.lease({});
    await a.post(`/v1/events/${id}/nack`, { lease_id: leased?.lease.lease_id, delay: 120 }, 200);

    // Act
    a.t.clock.advance(119 * SECOND);
    const early = [await a.inboxIds(), await a.lease({})];
    a.t.clock.advance(1 * SECOND);
    const due = await a.lease({});

    // Assess
    expect(early).toEqual([[], []]);
    expect(due.map((e) => [e.event_id, e.delivery_count])).toEqual([[id, 2]]);
  });

  it('makes the event dead when its last delivery is nacked: visible_at null, out of the inbox, listed as dead', async () => {
    // Prepare: two deliveries (TRIGGERS_MAX_DELIVERIES is 2 here)
    const [id] = await a.ingestMany(1);
    const [first] = await a.lease({});
    await a.post(`/v1/events/${id}/nack`, { lease_id: first?.lease.lease_id }, 200);
    const [second] = await a.lease({});

    // Act
    const res = await a.post(`/v1/events/${id}/nack`, { lease_id: second?.lease.lease_id }, 200);

    // Assess
    expect(res.body).toMatchObject({ status: 'dead', delivery_count: 2, visible_at: null });
    expect((await a.get(id as string)).status).toBe('dead');
    expect(await a.inboxIds()).toEqual([]);
    const dead = await checked(
      request(a.t.app).get('/v1/events').query({ status: 'dead' }).set('X-API-Key', DEV_KEY),
      200,
    );
    expect(dead.body.events.map((e: { event_id: string }) => e.event_id)).toEqual([id]);
  });

  it('answers 409 lease_mismatch to a lease that is no longer the latest', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [stale] = await a.lease({ visibility_timeout: 1 });
    a.t.clock.advance(SECOND);
    await a.lease({});

    // Act
    const res = await a.post(`/v1/events/${id}/nack`, { lease_id: stale?.lease.lease_id }, 409);

    // Assess
    expect(res.body.error.details).toEqual({ reason: 'lease_mismatch', current_status: 'pending' });
  });

  it('answers 409 with the current status for an acknowledged event, and 404 for an unknown one', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [leased] = await a.lease({});
    const acked = await a.post(`/v1/events/${id}/ack`, {}, 200);

    // Act
    const conflict = await a.post(`/v1/events/${id}/nack`, { lease_id: leased?.lease.lease_id }, 409);
    const missing = await a.post(`/v1/events/${UNKNOWN_ID}/nack`, { lease_id: 'abc' }, 404);

    // Assess
    expect(conflict.body.error.details).toMatchObject({
      current_status: 'acknowledged',
      acknowledged_at: acked.body.acknowledged_at,
    });
    expect(missing.body.error.code).toBe('NOT_FOUND');
  });

  it.each([
    [{}],
    [{ lease_id: 'abc', delay: -1 }],
    [{ lease_id: 'abc', delay: 43_201 }],
    [{ lease_id: 'abc', delay: 0.5 }],
    [{ lease_id: 'abc', extra: true }],
  ])('refuses %j with 400 VALIDATION_ERROR', async (body) => {
    const [id] = await a.ingestMany(1);
    const res = await a.post(`/v1/events/${id}/nack`, body, 400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('POST /v1/events/{event_id}/extend', () => {
  let a: LeaseApp;
  beforeEach(async () => {
    a = await leaseApp();
  });
  afterEach(() => a.t.close());

  it('sets leased_until to now + visibility_timeout, counted from the call, and keeps the event from other leases', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [leased] = await a.lease({ visibility_timeout: 30 });
    a.t.clock.advance(20 * SECOND);

    // Act
    const res = await a.post(
      `/v1/events/${id}/extend`,
      { lease_id: leased?.lease.lease_id, visibility_timeout: 60 },
      200,
    );
    a.t.clock.advance(30 * SECOND);
    const meanwhile = await a.lease({});

    // Assess
    expect(res.body).toMatchObject({ event_id: id, leased_until: iso(a.t.clock.now + 30 * SECOND) });
    expect(meanwhile).toEqual([]);
  });

  it('answers 409 lease_too_long with max_leased_until past 12 hours from when the lease was taken', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    const [leased] = await a.lease({ visibility_timeout: 43_200 });
    const takenAt = a.t.clock.now;
    a.t.clock.advance(SECOND);

    // Act
    const res = await a.post(
      `/v1/events/${id}/extend`,
      { lease_id: leased?.lease.lease_id, visibility_timeout: 43_200 },
      409,
    );

    // Assess
    expect(res.body.error).toMatchObject({
      code: 'CONFLICT',
      details: { reason: 'lease_too_long', max_leased_until: iso(takenAt + 12 * 3600 * SECOND) },
    });
  });

  it('answers 409 lease_mismatch to an old lease, 409 to a dead-or-acked event, and 404 to an unknown one', async () => {
    // Prepare
    const [first, second] = await a.ingestMany(2);
    const [stale] = await a.lease({ limit: 1, visibility_timeout: 1 });
    a.t.clock.advance(SECOND);
    // Oldest available first: the second event (available since created) before the first.
    const [other, current] = await a.lease({});
    await a.post(`/v1/events/${second}/ack`, { lease_id: other?.lease.lease_id }, 200);

    // Act
    const mismatch = await a.post(
      `/v1/events/${first}/extend`,
      { lease_id: stale?.lease.lease_id, visibility_timeout: 5 },
      409,
    );
    const acked = await a.post(
      `/v1/events/${second}/extend`,
      { lease_id: other?.lease.lease_id, visibility_timeout: 5 },
      409,
    );
    await a.post(`/v1/events/${UNKNOWN_ID}/extend`, { lease_id: 'abc', visibility_timeout: 5 }, 404);

    // Assess
    expect(current?.event_id).toBe(first);
    expect(mismatch.body.error.details).toEqual({ reason: 'lease_mismatch', current_status: 'pending' });
    expect(acked.body.error.details.current_status).toBe('acknowledged');
  });

  it.each([
    [{ lease_id: 'abc' }],
    [{ visibility_timeout: 5 }],
    [{ lease_id: 'abc', visibility_timeout: 0 }],
    [{ lease_id: 'abc', visibility_timeout: 43_201 }],
    [{ lease_id: 'abc', visibility_timeout: 5, wait: 1 }],
  ])('refuses %j with 400 VALIDATION_ERROR', async (body) => {
    const [id] = await a.ingestMany(1);
    const res = await a.post(`/v1/events/${id}/extend`, body, 400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('Dead letters', () => {
  let a: LeaseApp;
  beforeEach(async () => {
    a = await leaseApp({ maxDeliveries: 3 });
  });
  afterEach(() => a.t.close());

  it('makes an event leased TRIGGERS_MAX_DELIVERIES times and never acked dead once its last lease runs out', async () => {
    // Prepare: three leases that run out
    const [id] = await a.ingestMany(1);
    for (let delivery = 1; delivery <= 3; delivery += 1) {
      const [leased] = await a.lease({ visibility_timeout: 10 });
      expect([leased?.event_id, leased?.delivery_count]).toEqual([id, delivery]);
      a.t.clock.advance(10 * SECOND);
    }

    // Act
    const fourth = await a.lease({});

    // Assess
    expect(fourth).toEqual([]);
    expect(await a.get(id as string)).toMatchObject({ status: 'dead', delivery_count: 3 });
    expect(await a.inboxIds()).toEqual([]);
  });

  it('brings a dead event back with redeliver: pending, delivery_count 0, no lease, leasable again', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    for (let delivery = 1; delivery <= 3; delivery += 1) {
      await a.lease({ visibility_timeout: 1 });
      a.t.clock.advance(SECOND);
    }
    await a.lease({});

    // Act
    const res = await a.post(`/v1/events/${id}/redeliver`, undefined, 200);

    // Assess
    expect(res.body).toMatchObject({ event_id: id, status: 'pending' });
    expect(await a.get(id as string)).toMatchObject({
      status: 'pending',
      delivery_count: 0,
      leased_until: null,
      acknowledged_at: null,
    });
    const [again] = await a.lease({});
    expect([again?.event_id, again?.delivery_count]).toEqual([id, 1]);
  });
});

describe('POST /v1/events/{event_id}/redeliver', () => {
  let a: LeaseApp;
  beforeEach(async () => {
    a = await leaseApp();
  });
  afterEach(() => a.t.close());

  it('makes an acknowledged event pending again, back in the inbox at its place by created_at', async () => {
    // Prepare
    const [first, second] = await a.ingestMany(2);
    await a.post(`/v1/events/${first}/ack`, undefined, 200);
    a.t.clock.advance(SECOND);

    // Act
    await a.post(`/v1/events/${first}/redeliver`, undefined, 200);

    // Assess
    expect(await a.get(first as string)).toMatchObject({ status: 'pending', acknowledged_at: null });
    expect(await a.inboxIds()).toEqual([first, second]);
  });

  it('answers 409 CONFLICT with current_status pending for a pending event, and 404 for an unknown one', async () => {
    // Prepare
    const [id] = await a.ingestMany(1);
    await a.lease({});

    // Act
    const pending = await a.post(`/v1/events/${id}/redeliver`, undefined, 409);
    const missing = await a.post(`/v1/events/${UNKNOWN_ID}/redeliver`, undefined, 404);

    // Assess
    expect(pending.body.error).toMatchObject({
      code: 'CONFLICT',
      details: { current_status: 'pending', acknowledged_at: null },
    });
    expect(missing.body.error.code).toBe('NOT_FOUND');
  });

  it('answers 403 to a key without events:ack', async () => {
    const key = await a.t.createKey({ tenant: 'local', scopes: ['events:read', 'events:write'] });
    const [id] = await a.ingestMany(1);
    const res = await a.post(`/v1/events/${id}/redeliver`, undefined, 403, key);
    expect(res.body.error.details).toEqual({ required_scope: 'events:ack' });
  });
});

describe('POST /v1/events/bulk/redeliver', () => {
  let a: LeaseApp;
  beforeEach(async () => {
    a = await leaseApp();
  });
  afterEach(() => a.t.close());

  it('redelivers each id on its own, and lists pending, unknown, malformed and repeated ids in failed', async () => {
    // Prepare
    const [acked, pending] = await a.ingestMany(2);
    await a.post(`/v1/events/${acked}/ack`, undefined, 200);

    // Act
    const res = await a.post(
      '/v1/events/bulk/redeliver',
      { event_ids: [acked?.toUpperCase(), pending, UNKNOWN_ID, 'not-an-id', acked] },
      200,
    );

    // Assess
    expect(res.body.successful).toEqual([{ event_id: acked, status: 'pending' }]);
    expect(
      res.body.failed.map((f: { event_id: string; error: { code: string } }) => [f.event_id, f.error.code]),
    ).toEqual([
      [pending, 'CONFLICT'],
      [UNKNOWN_ID, 'NOT_FOUND'],
      ['not-an-id', 'NOT_FOUND'],
      [acked, 'CONFLICT'],
    ]);
    expect(await a.inboxIds()).toEqual([acked, pending]);
  });

  it.each([
    ['no ids', { event_ids: [] }],
    ['101 ids', { event_ids: Array.from({ length: 101 }, () => UNKNOWN_ID) }],
    ['an unknown field', { event_ids: [UNKNOWN_ID], all: true }],
  ])('refuses a body with %s with 400 VALIDATION_ERROR', async (_what, body) => {
    const res = await a.post('/v1/events/bulk/redeliver', body, 400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('Leases and tenants', () => {
  let a: LeaseApp;
  beforeEach(async () => {
    a = await leaseApp();
  });
  afterEach(() => a.t.close());

  it("never leases another tenant's events, and answers 404 to its nack, extend, redeliver and ack", async () => {
    // Prepare: an event of tenant local, leased and acked there
    const [id] = await a.ingestMany(1);
    const [leased] = await a.lease({});
    const leaseId = leased?.lease.lease_id as string;
    const other = await a.t.createKey({ tenant: 'acme' });

    // Act
    const stolen = await a.lease({}, other);
    await a.post(`/v1/events/${id}/nack`, { lease_id: leaseId }, 404, other);
    await a.post(`/v1/events/${id}/extend`, { lease_id: leaseId, visibility_timeout: 5 }, 404, other);
    await a.post(`/v1/events/${id}/ack`, { lease_id: leaseId }, 404, other);
    await a.post(`/v1/events/${id}/ack`, { lease_id: leaseId }, 200);
    await a.post(`/v1/events/${id}/redeliver`, undefined, 404, other);

    // Assess
    expect(stolen).toEqual([]);
    expect(await a.get(id as string)).toMatchObject({ status: 'acknowledged' });
  });
});
