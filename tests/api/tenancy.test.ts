import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, type TestApp } from '../helpers/test-app';

const body = { source: 'billing', event_type: 'order.created', payload: { secret: 'tenant-a only' } };

describe('Tenant isolation', () => {
  let t: TestApp;
  let keyA: string;
  let keyB: string;
  let eventId: string;

  beforeEach(async () => {
    t = await createTestApp({ authMode: 'aws' });
    keyA = await t.createKey({ tenant: 'tenant-a' });
    keyB = await t.createKey({ tenant: 'tenant-b' });
    const res = await request(t.app).post('/v1/events').set('X-API-Key', keyA).send(body);
    eventId = res.body.event_id;
  });
  afterEach(() => t.close());

  it('answers 404 when another tenant gets, acks or deletes the event, and the event is untouched', async () => {
    const get = await checked(request(t.app).get(`/v1/events/${eventId}`).set('X-API-Key', keyB), 404);
    const ack = await checked(request(t.app).post(`/v1/events/${eventId}/ack`).set('X-API-Key', keyB), 404);
    const bulkAck = await checked(
      request(t.app)
        .post('/v1/events/bulk/ack')
        .set('X-API-Key', keyB)
        .send({ event_ids: [eventId] }),
      200,
    );
    const del = await checked(request(t.app).delete(`/v1/events/${eventId}`).set('X-API-Key', keyB), 204);

    expect(get.status).toBe(404);
    expect(ack.status).toBe(404);
    expect(bulkAck.body.failed[0].error.code).toBe('NOT_FOUND');
    expect(del.status).toBe(204);
    const own = await checked(request(t.app).get(`/v1/events/${eventId}`).set('X-API-Key', keyA), 200);
    expect(own.body).toMatchObject({ status: 'pending', payload: body.payload });
  });

  it("never lists another tenant's events in the inbox", async () => {
    const b = await checked(request(t.app).get('/v1/inbox').set('X-API-Key', keyB), 200);
    const a = await checked(request(t.app).get('/v1/inbox').set('X-API-Key', keyA), 200);
    expect(b.body.events).toEqual([]);
    expect(a.body.events.map((e: { event_id: string }) => e.event_id)).toEqual([eventId]);
  });

  it('refuses the development key when AUTH_MODE is aws', async () => {
    const res = await checked(request(t.app).get('/v1/me').set('X-API-Key', 'test-api-key-12345'), 401);
    expect(res.status).toBe(401);
  });
});

describe('Authentication and scopes', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it.each([
    ['no key', {}],
    ['an unknown key of the right shape', { 'X-API-Key': `tk_${'A'.repeat(16)}_${'b'.repeat(43)}` }],
    ['a malformed key', { 'X-API-Key': 'nope' }],
    ['a Basic authorization', { Authorization: 'Basic dGVzdDp0ZXN0' }],
  ])('answers 401 UNAUTHORIZED for %s', async (_name, headers) => {
    const res = await checked(request(t.app).get('/v1/inbox').set(headers), 401);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
  });

  it('answers 401 for a revoked key once the key cache has expired (within 10 s)', async () => {
    const key = await t.createKey({ tenant: 'acme' });
    await checked(request(t.app).get('/v1/me').set('X-API-Key', key), 200).then((res) =>
      expect(res.status).toBe(200),
    );
    const keyId = key.split('_')[1] as string;
    await t.keys.revoke(keyId, t.clock.now);

    // The key cache's lifetime, counted from the lookup: the longest a revoked key still works.
    t.clock.advance(10_000);
    const res = await checked(request(t.app).get('/v1/me').set('X-API-Key', key), 401);

    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/revoked/);
  });

  it('gives a write-only key 403 FORBIDDEN on inbox, get, ack, bulk ack and delete, and 201 on ingest', async () => {
    const writer = await t.createKey({ tenant: 'acme', scopes: ['events:write'] });
    const created = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', writer)
        .send({ source: 's', event_type: 't', payload: {} }),
      201,
    );
    const id = created.body.event_id as string;

    const answers = await Promise.all([
      checked(request(t.app).get('/v1/inbox').set('X-API-Key', writer), 403),
      checked(request(t.app).get(`/v1/events/${id}`).set('X-API-Key', writer), 403),
      checked(request(t.app).post(`/v1/events/${id}/ack`).set('X-API-Key', writer), 403),
      checked(
        request(t.app)
          .post('/v1/events/bulk/ack')
          .set('X-API-Key', writer)
          .send({ event_ids: [id] }),
        403,
      ),
      checked(request(t.app).delete(`/v1/events/${id}`).set('X-API-Key', writer), 403),
    ]);

    expect(created.status).toBe(201);
    expect(answers.map((res) => res.status)).toEqual([403, 403, 403, 403, 403]);
    expect(answers.map((res) => res.body.error.details.required_scope)).toEqual([
      'events:read',
      'events:read',
      'events:ack',
      'events:ack',
      'events:ack',
    ]);
  });

  it('gives a read-only key 403 on ingest and bulk ingest', async () => {
    const reader = await t.createKey({ tenant: 'acme', scopes: ['events:read'] });
    const single = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', reader)
        .send({ source: 's', event_type: 't', payload: {} }),
      403,
    );
    const bulk = await checked(
      request(t.app)
        .post('/v1/events/bulk')
        .set('X-API-Key', reader)
        .send({ items: [{ source: 's', event_type: 't', payload: {} }] }),
      403,
    );
    expect([single.status, bulk.status]).toEqual([403, 403]);
  });

  it('answers /v1/me with the key tenant, id, source and scopes', async () => {
    const key = await t.createKey({ tenant: 'acme', source: 'shop', scopes: ['events:read'] });
    const res = await checked(request(t.app).get('/v1/me').set('X-API-Key', key), 200);
    expect(res.body).toMatchObject({
      tenant_id: 'acme',
      key_id: key.split('_')[1],
      source: 'shop',
      scopes: ['events:read'],
    });
  });
});
