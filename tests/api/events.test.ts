import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const event = {
  source: 'billing',
  event_type: 'order.created',
  payload: { order_id: 'ord_1', amount: 49.95, tiny: 5e-324, nested: { list: [1, 'two', null, true] } },
};

describe('POST /v1/events', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('answers 201 with the event id, Location and times, and stores the event as sent', async () => {
    // Act
    const res = await checked(request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(event), 201);

    // Assess
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('pending');
    expect(res.headers.location).toBe(`/v1/events/${res.body.event_id}`);
    expect(res.body.created_at).toBe(new Date(t.clock.now).toISOString());
    expect(res.body.expires_at).toBe(new Date(t.clock.now + 7 * 86_400_000).toISOString());
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    const got = await checked(
      request(t.app).get(`/v1/events/${res.body.event_id}`).set('X-API-Key', DEV_KEY),
      200,
    );
    expect(got.body).toMatchObject({
      ...event,
      event_id: res.body.event_id,
      status: 'pending',
      metadata: { priority: 'normal' },
      acknowledged_at: null,
    });
  });

  it('trims source and event_type and keeps extra metadata keys as given', async () => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({
          source: '  billing ',
          event_type: '\torder.paid\n',
          payload: {},
          metadata: { correlation_id: 'c-1', priority: 'high', team: { name: 'ops' } },
        }),
      201,
    );
    const got = await checked(
      request(t.app).get(`/v1/events/${res.body.event_id}`).set('X-API-Key', DEV_KEY),
      200,
    );
    expect(got.body.source).toBe('billing');
    expect(got.body.event_type).toBe('order.paid');
    expect(got.body.metadata).toEqual({ correlation_id: 'c-1', priority: 'high', team: { name: 'ops' } });
  });

  it('accepts the key as Authorization: Bearer', async () => {
    const res = await checked(
      request(t.app).post('/v1/events').set('Authorization', `Bearer ${DEV_KEY}`).send(event),
      201,
    );
    expect(res.status).toBe(201);
  });

  it.each([
    ['a blank source', { ...event, source: '   ' }, '/body/source'],
    ['a numeric source (never coerced)', { ...event, source: 1 }, '/body/source'],
    ['a missing payload', { source: 'a', event_type: 'b' }, '/body/payload'],
    ['an array payload', { ...event, payload: [1, 2] }, '/body/payload'],
    ['an unknown top-level field', { ...event, extra: true }, '/body/extra'],
    ['a source over 128 characters', { ...event, source: 'x'.repeat(129) }, '/body/source'],
    ['an unknown priority', { ...event, metadata: { priority: 'urgent' } }, '/body/metadata/priority'],
    [
      'a correlation_id over 128 characters',
      { ...event, metadata: { correlation_id: 'c'.repeat(129) } },
      '/body/metadata/correlation_id',
    ],
  ])(
    'answers 400 VALIDATION_ERROR naming the field for %s, and writes nothing',
    async (_name, body, path) => {
      const res = await checked(request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(body), 400);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details.errors.map((e: { path: string }) => e.path)).toContain(path);
      const inbox = await request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY);
      expect(inbox.body.events).toEqual([]);
    },
  );

  it('answers 400 for malformed JSON', async () => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .set('Content-Type', 'application/json')
        .send('{"source": "a",'),
      400,
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: 'The request body is not valid JSON.',
    });
  });

  it('answers 415 for a body that is not application/json', async () => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .set('Content-Type', 'text/plain')
        .send('hello'),
      415,
    );
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 400 for a payload nested deeper than 64 levels', async () => {
    let payload: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 64; i += 1) payload = { child: payload };
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({ ...event, payload }),
      400,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details.errors[0].path).toBe('/payload');
  });

  it('answers 400 for a number JSON cannot carry back (1e400), instead of storing null', async () => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .set('Content-Type', 'application/json')
        .send('{"source":"s","event_type":"t","payload":{"a":{"n":1e400}}}'),
      400,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details.errors[0].path).toBe('/payload/a/n');
  });

  it('answers 400 for a source with a lone surrogate, which is not valid Unicode', async () => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .set('Content-Type', 'application/json')
        .send('{"source":"billing\\ud800","event_type":"t","payload":{}}'),
      400,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details.errors[0].path).toBe('/body/source');
  });

  it('answers 400 for a body that cannot be decompressed', async () => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'gzip')
        .send('{"source":"s","event_type":"t","payload":{}}'),
      400,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('answers 413 PAYLOAD_TOO_LARGE for a body over 1 MiB', async () => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({ ...event, payload: { blob: 'x'.repeat(1024 * 1024) } }),
      413,
    );
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(res.body.error.details.limit_bytes).toBe(1024 * 1024);
  });
});

describe('GET /v1/events/{event_id}', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('answers 404 for an unknown id', async () => {
    const res = await checked(
      request(t.app).get('/v1/events/0193a0b0-0000-7000-8000-000000000000').set('X-API-Key', DEV_KEY),
      404,
    );
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const res = await checked(request(t.app).get('/v1/events/not-a-uuid').set('X-API-Key', DEV_KEY), 400);
    expect(res.status).toBe(400);
    expect(res.body.error.details.errors[0].path).toBe('/params/event_id');
  });

  it('shows an acknowledged event with its acknowledged_at', async () => {
    const created = await request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(event);
    t.clock.advance(1500);
    await request(t.app).post(`/v1/events/${created.body.event_id}/ack`).set('X-API-Key', DEV_KEY);
    const res = await checked(
      request(t.app).get(`/v1/events/${created.body.event_id}`).set('X-API-Key', DEV_KEY),
      200,
    );
    expect(res.body.status).toBe('acknowledged');
    expect(res.body.acknowledged_at).toBe(new Date(t.clock.now).toISOString());
  });
});

describe('DELETE /v1/events/{event_id}', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('answers 204, then 404 on get, and 204 again when already gone', async () => {
    const created = await request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(event);
    const id = created.body.event_id as string;

    const first = await checked(request(t.app).delete(`/v1/events/${id}`).set('X-API-Key', DEV_KEY), 204);
    const get = await checked(request(t.app).get(`/v1/events/${id}`).set('X-API-Key', DEV_KEY), 404);
    const second = await checked(request(t.app).delete(`/v1/events/${id}`).set('X-API-Key', DEV_KEY), 204);

    expect([first.status, get.status, second.status]).toEqual([204, 404, 204]);
    expect(first.text).toBe('');
  });
});
