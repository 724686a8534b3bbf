import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const body = { source: 'billing', event_type: 'order.created', payload: { order_id: 'ord_7', amount: 10.5 } };

describe('Idempotent ingest', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const post = (key: string | undefined, payload: object, status?: number, apiKey = DEV_KEY) => {
    const req = request(t.app).post('/v1/events').set('X-API-Key', apiKey);
    if (key !== undefined) req.set('Idempotency-Key', key);
    return checked(req.send(payload), status);
  };

  it('replays the original 201 with Idempotent-Replayed: true for the same key and body', async () => {
    // Prepare
    const first = await post('order-7-created', body, 201);
    t.clock.advance(5_000);

    // Act
    const replay = await post('order-7-created', body, 201);

    // Assess
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.location).toBe(first.headers.location);
    expect({ ...replay.body, request_id: undefined }).toEqual({ ...first.body, request_id: undefined });
    const inbox = await request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY);
    expect(inbox.body.events).toHaveLength(1);
  });

  it('treats a key in metadata.idempotency_key like the header, and shows it in metadata', async () => {
    const first = await post(undefined, { ...body, metadata: { idempotency_key: 'k-meta' } }, 201);
    const replay = await post('k-meta', body, 201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.event_id).toBe(first.body.event_id);
    const got = await request(t.app).get(`/v1/events/${first.body.event_id}`).set('X-API-Key', DEV_KEY);
    expect(got.body.metadata).toEqual({ priority: 'normal', idempotency_key: 'k-meta' });
  });

  it('answers 400 when the header and metadata carry different keys', async () => {
    const res = await post('k-header', { ...body, metadata: { idempotency_key: 'k-other' } }, 400);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with another body, and writes nothing', async () => {
    const first = await post('k-1', body, 201);
    const reuse = await post('k-1', { ...body, payload: { order_id: 'ord_8' } }, 422);
    expect(reuse.status).toBe(422);
    expect(reuse.body.error).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      details: { idempotency_key: 'k-1', event_id: first.body.event_id },
    });
    const inbox = await request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY);
    expect(inbox.body.events).toHaveLength(1);
  });

  it('treats bodies that differ only in key order as the same request', async () => {
    const first = await post('k-order', { payload: { b: 1, a: 2 }, event_type: 'x', source: 's' }, 201);
    const replay = await post('k-order', { source: 's', event_type: 'x', payload: { a: 2, b: 1 } }, 201);
    expect(replay.status).toBe(201);
    expect(replay.body.event_id).toBe(first.body.event_id);
  });

  it('creates exactly one event for 30 concurrent first requests with one key, and every answer names it', async () => {
    // Act
    const answers = await Promise.all(Array.from({ length: 30 }, () => post('race-key', body, 201)));

    // Assess
    expect(answers.map((res) => res.status)).toEqual(Array(30).fill(201));
    const ids = new Set(answers.map((res) => res.body.event_id));
    expect(ids.size).toBe(1);
    expect(answers.filter((res) => res.headers['idempotent-replayed'] === 'true')).toHaveLength(29);
    expect(await t.countEvents()).toBe(1);
  });

  it('answers 422 to the concurrent requests whose body differs from the winner', async () => {
    const answers = await Promise.all([
      post('race-2', body),
      ...Array.from({ length: 9 }, (_, i) => post('race-2', { ...body, payload: { n: i } })),
    ]);
    const statuses = answers.map((res) => res.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 422)).toHaveLength(9);
  });

  it('keeps keys per tenant: the same key in two tenants makes two events', async () => {
    const otherKey = await t.createKey({ tenant: 'tenant-b' });
    const a = await post('shared-key', body, 201);
    const b = await post('shared-key', body, 201, otherKey);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.body.event_id).not.toBe(a.body.event_id);
  });

  it('forgets a key after 24 hours: the same key then makes a new event', async () => {
    const first = await post('k-day', body, 201);
    t.clock.advance(24 * 60 * 60 * 1000 + 1);
    const later = await post('k-day', { ...body, payload: { another: true } }, 201);
    expect(later.status).toBe(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(later.body.event_id).not.toBe(first.body.event_id);
  });

  it('still replays within 24 hours after the event itself was deleted', async () => {
    const first = await post('k-del', body, 201);
    await request(t.app).delete(`/v1/events/${first.body.event_id}`).set('X-API-Key', DEV_KEY);
    const replay = await post('k-del', body, 201);
    expect(replay.status).toBe(201);
    expect(replay.body.event_id).toBe(first.body.event_id);
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it.each([
    ['an empty key', ''],
    ['a key over 255 characters', 'k'.repeat(256)],
    ['a key with a space', 'two words'],
  ])('answers 400 for %s', async (_name, key) => {
    const res = await post(key, body, 400);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});
