import request from 'supertest';
import { MAX_SUBSCRIPTIONS_PER_TENANT } from '../../server/src/store/webhook-store';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const TARGET = 'https://hooks.example.com/triggers';
const UNKNOWN_ID = 'sub_0193a0b000007000800000000000000a';

describe('Subscriptions (DESIGN §11)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const subscribe = (body: Record<string, unknown>, key = DEV_KEY) =>
    request(t.app).post('/v1/subscriptions').set('X-API-Key', key).send(body);

  it('creates a subscription with a whsec_ secret shown only in the 201, and a Location', async () => {
    // Act
    const created = await checked(
      subscribe({
        target_url: TARGET,
        event_types: ['order.*', 'user.signup'],
        sources: ['billing'],
        description: 'ERP',
      }),
      201,
    );
    const got = await checked(
      request(t.app).get(`/v1/subscriptions/${created.body.subscription_id}`).set('X-API-Key', DEV_KEY),
      200,
    );
    const listed = await checked(request(t.app).get('/v1/subscriptions').set('X-API-Key', DEV_KEY), 200);
    // Assess
    expect(created.body).toMatchObject({
      target_url: TARGET,
      event_types: ['order.*', 'user.signup'],
      sources: ['billing'],
      description: 'ERP',
      status: 'active',
      disabled_reason: null,
    });
    expect(created.body.subscription_id).toMatch(/^sub_[0-9a-f]{32}$/);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.body.secret.slice(6), 'base64')).toHaveLength(32);
    expect(created.headers.location).toBe(`/v1/subscriptions/${created.body.subscription_id}`);
    expect(got.body.secret).toBeUndefined();
    expect(got.body.created_at).toBe(created.body.created_at);
    expect(listed.body.subscriptions).toHaveLength(1);
    expect(listed.body.subscriptions[0].secret).toBeUndefined();
  });

  it('gives every subscription its own secret', async () => {
    const a = await checked(subscribe({ target_url: TARGET }), 201);
    const b = await checked(subscribe({ target_url: TARGET }), 201);
    expect(a.body.secret).not.toBe(b.body.secret);
    expect(a.body.event_types).toEqual([]);
    expect(a.body.sources).toEqual([]);
    expect(a.body.description).toBeNull();
  });

  it('lists newest first, page by page with cursors', async () => {
    // Prepare
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      t.clock.advance(1);
      ids.push((await checked(subscribe({ target_url: `${TARGET}/${i}` }), 201)).body.subscription_id);
    }
    // Act
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await checked(
        request(t.app)
          .get('/v1/subscriptions')
          .query({ limit: 2, ...(cursor ? { cursor } : {}) })
          .set('X-API-Key', DEV_KEY),
        200,
      );
      seen.push(...res.body.subscriptions.map((s: { subscription_id: string }) => s.subscription_id));
      cursor = res.body.pagination.next_cursor ?? undefined;
      expect(res.body.pagination.has_more).toBe(cursor !== undefined);
    } while (cursor);
    // Assess
    expect(seen).toEqual([...ids].reverse());
  });

  it('deletes a subscription: 204, then 404, and deleting again is 204', async () => {
    const { body } = await checked(subscribe({ target_url: TARGET }), 201);
    const path = `/v1/subscriptions/${body.subscription_id}`;
    await checked(request(t.app).delete(path).set('X-API-Key', DEV_KEY), 204);
    await checked(request(t.app).get(path).set('X-API-Key', DEV_KEY), 404);
    await checked(request(t.app).get(`${path}/deliveries`).set('X-API-Key', DEV_KEY), 404);
    await checked(request(t.app).delete(path).set('X-API-Key', DEV_KEY), 204);
  });

  it("answers 404 for another tenant's subscription and its log, lists only the tenant's own, and its delete changes nothing", async () => {
    // Prepare
    const other = await t.createKey({ tenant: 'tenant-b', scopes: ['subscriptions:manage'] });
    const { body } = await checked(subscribe({ target_url: TARGET }), 201);
    const path = `/v1/subscriptions/${body.subscription_id}`;
    // Act + Assess
    await checked(request(t.app).get(path).set('X-API-Key', other), 404);
    await checked(request(t.app).get(`${path}/deliveries`).set('X-API-Key', other), 404);
    const listed = await checked(request(t.app).get('/v1/subscriptions').set('X-API-Key', other), 200);
    expect(listed.body.subscriptions).toEqual([]);
    await checked(request(t.app).delete(path).set('X-API-Key', other), 204);
    await checked(request(t.app).get(path).set('X-API-Key', DEV_KEY), 200);
  });

  it('needs the scope subscriptions:manage for every subscription operation', async () => {
    const key = await t.createKey({ tenant: 'local', scopes: ['events:write', 'events:read', 'events:ack'] });
    const res = await checked(subscribe({ target_url: TARGET }, key), 403);
    expect(res.body.error.details).toEqual({ required_scope: 'subscriptions:manage' });
    await checked(request(t.app).get('/v1/subscriptions').set('X-API-Key', key), 403);
    await checked(request(t.app).get(`/v1/subscriptions/${UNKNOWN_ID}`).set('X-API-Key', key), 403);
    await checked(request(t.app).delete(`/v1/subscriptions/${UNKNOWN_ID}`).set('X-API-Key', key), 403);
    await checked(
      request(t.app).get(`/v1/subscriptions/${UNKNOWN_ID}/deliveries`).set('X-API-Key', key),
      403,
    );
  });

  it('answers 404 for an unknown subscription and 400 for a malformed id', async () => {
    await checked(request(t.app).get(`/v1/subscriptions/${UNKNOWN_ID}`).set('X-API-Key', DEV_KEY), 404);
    await checked(request(t.app).get('/v1/subscriptions/nope').set('X-API-Key', DEV_KEY), 400);
  });

  it.each([
    ['no target_url', {}, '/body/target_url'],
    ['an ftp target', { target_url: 'ftp://example.com/x' }, '/body/target_url'],
    ['a target that is not a URL', { target_url: 'not a url' }, '/body/target_url'],
    [
      'a target over 2,048 characters',
      { target_url: `https://example.com/${'a'.repeat(2048)}` },
      '/body/target_url',
    ],
    ['a target with credentials', { target_url: 'https://user:pw@example.com/x' }, '/body/target_url'],
    ['the pattern "*"', { target_url: TARGET, event_types: ['*'] }, '/body/event_types/0'],
    ['a "*" inside a pattern', { target_url: TARGET, event_types: ['order.*.paid'] }, '/body/event_types/0'],
    ['a "*" not after a dot', { target_url: TARGET, event_types: ['order*'] }, '/body/event_types/0'],
    [
      '21 event types',
      { target_url: TARGET, event_types: Array.from({ length: 21 }, (_, i) => `t${i}`) },
      '/body/event_types',
    ],
    ['a blank source', { target_url: TARGET, sources: [''] }, '/body/sources/0'],
    ['an unknown field', { target_url: TARGET, extra: 1 }, '/body/extra'],
  ])('answers 400 naming the field for %s', async (_label, body, path) => {
    const res = await checked(subscribe(body), 400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(JSON.stringify(res.body.error.details)).toContain(path);
  });

  it(`refuses the subscription after ${MAX_SUBSCRIPTIONS_PER_TENANT} with 409 too_many_subscriptions`, async () => {
    for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_TENANT; i += 1)
      await checked(subscribe({ target_url: TARGET }), 201);
    const res = await checked(subscribe({ target_url: TARGET }), 409);
    expect(res.body.error.details).toEqual({
      reason: 'too_many_subscriptions',
      limit: MAX_SUBSCRIPTIONS_PER_TENANT,
    });
    const other = await t.createKey({ tenant: 'tenant-b', scopes: ['subscriptions:manage'] });
    await checked(subscribe({ target_url: TARGET }, other), 201);
  });

  it('pages the delivery log with a cursor bound to its subscription', async () => {
    const a = await checked(subscribe({ target_url: TARGET }), 201);
    const b = await checked(subscribe({ target_url: TARGET }), 201);
    const page = await checked(
      request(t.app).get(`/v1/subscriptions/${a.body.subscription_id}/deliveries`).set('X-API-Key', DEV_KEY),
      200,
    );
    expect(page.body).toMatchObject({ deliveries: [], pagination: { has_more: false, next_cursor: null } });
    const listed = await checked(
      request(t.app).get('/v1/subscriptions').query({ limit: 1 }).set('X-API-Key', DEV_KEY),
      200,
    );
    const res = await checked(
      request(t.app)
        .get(`/v1/subscriptions/${b.body.subscription_id}/deliveries`)
        .query({ cursor: listed.body.pagination.next_cursor })
        .set('X-API-Key', DEV_KEY),
      400,
    );
    expect(res.body.error.code).toBe('INVALID_CURSOR');
  });
});
