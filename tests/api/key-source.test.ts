import { CloudEvent, HTTP, type Message } from 'cloudevents';
import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

/**
 * Issue 15: a key created with a source may send only events of that source, on every way in
 * (single, bulk, CloudEvents structured, binary and batch); a key created without one, and the
 * development key, may send any. Runs on both stores (jest projects sqlite and api-on-dynamodb).
 */

const event = (source: string) => ({ source, event_type: 'order.created', payload: { n: 1 } });
const cloudEvent = (source: string, id: string) =>
  new CloudEvent<unknown>({ id, source, type: 'order.created', data: { n: 1 } });

describe('A key restricted to a source (issue 15)', () => {
  let t: TestApp;
  let shopKey: string;
  let anyKey: string;

  beforeEach(async () => {
    t = await createTestApp({ authMode: 'local' });
    shopKey = await t.createKey({ tenant: 'acme', source: 'shop' });
    anyKey = await t.createKey({ tenant: 'acme' });
  });
  afterEach(() => t.close());

  const post = (apiKey: string, path: string, message: Message) =>
    request(t.app)
      .post(path)
      .set('X-API-Key', apiKey)
      .set(message.headers as Record<string, string>)
      .send(message.body as string);
  const json = (value: unknown): Message => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  });

  it('shows its source on /v1/me, and null for unrestricted keys and the development key', async () => {
    // Act
    const me = async (apiKey: string) =>
      (await checked(request(t.app).get('/v1/me').set('X-API-Key', apiKey), 200)).body.source;

    // Assess
    expect(await me(shopKey)).toBe('shop');
    expect(await me(anyKey)).toBeNull();
    expect(await me(DEV_KEY)).toBeNull();
  });

  it('sends an event of its source, and is refused 403 FORBIDDEN for another, storing nothing', async () => {
    // Act
    const own = await checked(post(shopKey, '/v1/events', json(event('shop'))), 201);
    const other = await checked(post(shopKey, '/v1/events', json(event('billing'))), 403);

    // Assess
    expect(own.status).toBe(201);
    expect(other.body.error).toEqual({
      code: 'FORBIDDEN',
      message: 'This API key may send only events of source "shop", not "billing".',
      details: { allowed_source: 'shop', source: 'billing' },
      request_id: other.headers['x-request-id'],
    });
    expect(await t.countEvents('acme')).toBe(1);
  });

  it('compares the source as stored: trimmed, and case-sensitive', async () => {
    // Act
    const padded = await checked(post(shopKey, '/v1/events', json(event('  shop '))), 201);
    const upper = await checked(post(shopKey, '/v1/events', json(event('Shop'))), 403);

    // Assess
    expect(padded.status).toBe(201);
    expect(upper.body.error.details).toEqual({ allowed_source: 'shop', source: 'Shop' });
  });

  it('refuses another source before anything else about the event, even with an idempotency key', async () => {
    // Act: a payload over the limit and another source: the source is what is refused
    const tooLarge = { ...event('billing'), payload: { big: 'x'.repeat(409_600) } };
    const res = await checked(post(shopKey, '/v1/events', json(tooLarge)).set('Idempotency-Key', 'k-1'), 403);

    // Assess
    expect(res.body.error.code).toBe('FORBIDDEN');
    expect(await t.countEvents('acme')).toBe(0);
  });

  it('fails each bulk item of another source alone, with FORBIDDEN, and stores the others', async () => {
    // Act
    const res = await checked(
      post(shopKey, '/v1/events/bulk', json({ items: [event('shop'), event('billing'), event('shop')] })),
      200,
    );

    // Assess
    expect(res.body.successful.map((item: { index: number }) => item.index)).toEqual([0, 2]);
    expect(res.body.failed).toEqual([
      {
        index: 1,
        error: {
          code: 'FORBIDDEN',
          message: 'This API key may send only events of source "shop", not "billing".',
          details: { allowed_source: 'shop', source: 'billing' },
        },
      },
    ]);
    expect(await t.countEvents('acme')).toBe(2);
  });

  it('holds CloudEvents to the same source: structured, binary and batch', async () => {
    // Act
    const structuredOwn = await checked(
      post(shopKey, '/v1/events', HTTP.structured(cloudEvent('shop', 'e-1'))),
      201,
    );
    const structuredOther = await checked(
      post(shopKey, '/v1/events', HTTP.structured(cloudEvent('https://billing.example', 'e-2'))),
      403,
    );
    const binaryOther = await checked(
      post(shopKey, '/v1/events', HTTP.binary(cloudEvent('https://billing.example', 'e-3'))),
      403,
    );
    const batch = await checked(
      post(shopKey, '/v1/events/bulk', {
        headers: { 'content-type': 'application/cloudevents-batch+json' },
        body: JSON.stringify([cloudEvent('https://billing.example', 'e-4'), cloudEvent('shop', 'e-5')]),
      }),
      200,
    );

    // Assess
    expect(structuredOwn.status).toBe(201);
    for (const refused of [structuredOther, binaryOther]) {
      expect(refused.body.error).toMatchObject({
        code: 'FORBIDDEN',
        details: { allowed_source: 'shop', source: 'https://billing.example' },
      });
    }
    expect(batch.body.successful.map((item: { index: number }) => item.index)).toEqual([1]);
    expect(batch.body.failed).toEqual([
      {
        index: 0,
        error: expect.objectContaining({
          code: 'FORBIDDEN',
          details: { allowed_source: 'shop', source: 'https://billing.example' },
        }),
      },
    ]);
    expect(await t.countEvents('acme')).toBe(2);
  });

  it('leaves unrestricted keys and the development key free to send any source', async () => {
    // Act
    const answers = await Promise.all([
      checked(post(anyKey, '/v1/events', json(event('shop'))), 201),
      checked(post(anyKey, '/v1/events', json(event('billing'))), 201),
      checked(post(anyKey, '/v1/events', HTTP.structured(cloudEvent('https://crm.example', 'e-6'))), 201),
      checked(post(DEV_KEY, '/v1/events', json(event('anything'))), 201),
    ]);
    const bulk = await checked(
      post(anyKey, '/v1/events/bulk', json({ items: [event('shop'), event('billing')] })),
      200,
    );

    // Assess
    expect(answers.map((res) => res.status)).toEqual([201, 201, 201, 201]);
    expect(bulk.body.failed).toEqual([]);
    expect(await t.countEvents('acme')).toBe(5);
  });
});
