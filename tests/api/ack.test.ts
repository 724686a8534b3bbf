import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const body = { source: 'billing', event_type: 'order.created', payload: { n: 1 } };
const UNKNOWN_ID = '0193a0b0-0000-7000-8000-000000000000';

describe('Acknowledging events', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const create = async () => {
    const res = await request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(body);
    return res.body.event_id as string;
  };
  const ack = (id: string, status?: number) =>
    checked(request(t.app).post(`/v1/events/${id}/ack`).set('X-API-Key', DEV_KEY), status);

  it('answers 200 with acknowledged_at, and removes the event from the inbox', async () => {
    const id = await create();
    t.clock.advance(250);

    const res = await ack(id, 200);

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      event_id: id,
      status: 'acknowledged',
      acknowledged_at: new Date(t.clock.now).toISOString(),
    });
    const inbox = await request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY);
    expect(inbox.body.events).toEqual([]);
  });

  it('answers 409 CONFLICT with the current status and acknowledged_at on a second ack', async () => {
    const id = await create();
    const first = await ack(id, 200);

    const second = await ack(id, 409);

    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({
      code: 'CONFLICT',
      details: { current_status: 'acknowledged', acknowledged_at: first.body.acknowledged_at },
    });
  });

  it('answers 404 for an unknown event', async () => {
    const res = await ack(UNKNOWN_ID, 404);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it('lets exactly one of 20 concurrent acks of one event win; the rest get 409', async () => {
    const id = await create();

    const answers = await Promise.all(Array.from({ length: 20 }, () => ack(id)));

    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
  });
});

describe('POST /v1/events/bulk/ack', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('acks each id on its own and lists unknown, repeated and malformed ids in failed', async () => {
    // Prepare
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(body);
      ids.push(res.body.event_id);
    }
    await request(t.app).post(`/v1/events/${ids[2]}/ack`).set('X-API-Key', DEV_KEY);

    // Act
    const res = await checked(
      request(t.app)
        .post('/v1/events/bulk/ack')
        .set('X-API-Key', DEV_KEY)
        .send({ event_ids: [ids[0], ids[1], ids[2], UNKNOWN_ID, 'not-an-id', ids[0]] }),
      200,
    );

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.successful.map((s: { event_id: string }) => s.event_id)).toEqual([ids[0], ids[1]]);
    expect(
      res.body.failed.map((f: { event_id: string; error: { code: string } }) => [f.event_id, f.error.code]),
    ).toEqual([
      [ids[2], 'CONFLICT'],
      [UNKNOWN_ID, 'NOT_FOUND'],
      ['not-an-id', 'NOT_FOUND'],
      [ids[0], 'CONFLICT'],
    ]);
  });

  it('acks an id given several times once, at its first occurrence, whatever the store', async () => {
    // Prepare
    const ids: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const res = await request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(body);
      ids.push(res.body.event_id);
    }
    const [a, b] = ids as [string, string];
    const repeated = [b, a, a.toUpperCase(), b, a, b, a, b];

    // Act
    const res = await checked(
      request(t.app).post('/v1/events/bulk/ack').set('X-API-Key', DEV_KEY).send({ event_ids: repeated }),
      200,
    );

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.successful.map((s: { event_id: string }) => s.event_id)).toEqual([b, a]);
    const ackedAt = new Map(
      res.body.successful.map((s: { event_id: string; acknowledged_at: string }) => [
        s.event_id,
        s.acknowledged_at,
      ]),
    );
    expect(
      res.body.failed.map(
        (f: { event_id: string; error: { code: string; details: { acknowledged_at: string } } }) => [
          f.event_id.toLowerCase(),
          f.error.code,
          f.error.details.acknowledged_at,
        ],
      ),
    ).toEqual([a, b, a, b, a, b].map((id) => [id, 'CONFLICT', ackedAt.get(id)]));
  });

  it.each([
    ['no ids', { event_ids: [] }],
    ['101 ids', { event_ids: Array(101).fill(UNKNOWN_ID) }],
    ['a missing event_ids', {}],
  ])('answers 400 for %s', async (_name, payload) => {
    const res = await checked(
      request(t.app).post('/v1/events/bulk/ack').set('X-API-Key', DEV_KEY).send(payload),
      400,
    );
    expect(res.status).toBe(400);
  });
});
