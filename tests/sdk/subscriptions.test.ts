import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import {
  ConflictError,
  createTriggersClient,
  type DeliveryAttempt,
  NotFoundError,
  PermissionError,
  ServerError,
  type Subscription,
  type TriggersClient,
  type TriggersClientOptions,
  ValidationError,
  verifyWebhook,
  type WebhookEvent,
  WebhookVerificationError,
} from '../../sdk/src/index';
import { Deliverer } from '../../server/src/webhooks/deliverer';
import { createPoster } from '../../server/src/webhooks/post';
import { TargetGuard } from '../../server/src/webhooks/target-guard';
import { rejectionOf } from '../helpers/rejection';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';
import { apiError, json, scriptedFetch } from './scripted-fetch';

// The subscriptions helpers twice: on an injected fetch (what goes out, what is retried), and
// over HTTP against the real app on a real SQLite store with its deliverer running, webhooks
// going to an Express receiver that checks them with verifyWebhook as sdk/README.md shows.

const BASE_URL = 'http://api.test';
const SUBSCRIPTION_ID = 'sub_01936f7e5a3b7c419d2e3f4a5b6c7d8e';

function scriptedClient(fetch: typeof globalThis.fetch, options: Partial<TriggersClientOptions> = {}) {
  return createTriggersClient({
    baseUrl: BASE_URL,
    apiKey: 'tk_unit_secret',
    fetch,
    maxRetries: 2,
    timeoutMs: 1_000,
    ...options,
  });
}

/** Subscription `n` as the API lists it. */
function subscription(n: number): Subscription {
  return {
    subscription_id: `sub_${String(n).padStart(32, '0')}`,
    target_url: `https://hooks.example.com/${n}`,
    event_types: [],
    sources: [],
    description: null,
    status: 'active',
    disabled_reason: null,
    created_at: new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
  };
}

function attempt(n: number): DeliveryAttempt {
  return {
    event_id: `0194a000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    attempt: 1,
    attempted_at: new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
    status_code: 200,
    duration_ms: 12,
    error: null,
    outcome: 'succeeded',
    next_attempt_at: null,
  };
}

const pagination = (nextCursor: string | null) => ({
  limit: 2,
  next_cursor: nextCursor,
  has_more: nextCursor !== null,
});

/** Retries wait random × window: pinned to 0 so that a retry goes out at once. */
beforeEach(() => {
  jest.spyOn(Math, 'random').mockReturnValue(0);
});
afterEach(() => {
  jest.restoreAllMocks();
});

describe('subscriptions helpers on an injected fetch', () => {
  it('create posts the input as the API names it, once: a 503 is not retried', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': '0' } }));
    const input = { target_url: 'https://hooks.example.com/t', event_types: ['order.*'], sources: ['shop'] };

    // Act
    const error = await rejectionOf(scriptedClient(fetch).subscriptions.create(input));

    // Assess
    expect(error).toBeInstanceOf(ServerError);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: 'POST', idempotencyKey: null });
    expect(sent[0]?.url.pathname).toBe('/v1/subscriptions');
    expect(JSON.parse(sent[0]?.body ?? '')).toEqual(input);
  });

  it('list follows next_cursor with the same limit, and listPage reads one page', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      json(200, {
        subscriptions: [subscription(4), subscription(3)],
        pagination: pagination('c1'),
        request_id: 'r1',
      }),
      json(200, { subscriptions: [subscription(2)], pagination: pagination(null), request_id: 'r2' }),
      json(200, { subscriptions: [subscription(4)], pagination: pagination('c9'), request_id: 'r3' }),
    );
    const triggers = scriptedClient(fetch);

    // Act
    const listed: Subscription[] = [];
    for await (const item of triggers.subscriptions.list({ limit: 2 })) listed.push(item);
    const page = await triggers.subscriptions.listPage({ limit: 1, cursor: 'c0' });

    // Assess
    expect(listed.map((item) => item.target_url)).toEqual(
      [4, 3, 2].map((n) => `https://hooks.example.com/${n}`),
    );
    expect(sent.map((request) => `${request.url.pathname}${request.url.search}`)).toEqual([
      '/v1/subscriptions?limit=2',
      '/v1/subscriptions?limit=2&cursor=c1',
      '/v1/subscriptions?limit=1&cursor=c0',
    ]);
    expect(page.pagination.next_cursor).toBe('c9');
  });

  it('get, delete and the delivery log name the subscription in the path', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      json(200, { ...subscription(1), request_id: 'r1' }),
      new Response(null, { status: 204 }),
      json(200, { deliveries: [attempt(3), attempt(2)], pagination: pagination('d1'), request_id: 'r2' }),
      json(200, { deliveries: [attempt(1)], pagination: pagination(null), request_id: 'r3' }),
      json(200, { deliveries: [attempt(3)], pagination: pagination('d2'), request_id: 'r4' }),
    );
    const triggers = scriptedClient(fetch);

    // Act
    const got = await triggers.subscriptions.get(SUBSCRIPTION_ID);
    const deleted = await triggers.subscriptions.delete(SUBSCRIPTION_ID);
    const attempts: DeliveryAttempt[] = [];
    for await (const item of triggers.subscriptions.deliveries(SUBSCRIPTION_ID, { limit: 2 }))
      attempts.push(item);
    const page = await triggers.subscriptions.deliveriesPage(SUBSCRIPTION_ID, { limit: 1 });

    // Assess
    expect(got.subscription_id).toBe(subscription(1).subscription_id);
    expect(deleted).toBeUndefined();
    expect(attempts.map((item) => item.attempted_at)).toEqual([3, 2, 1].map((n) => attempt(n).attempted_at));
    expect(page.deliveries).toHaveLength(1);
    expect(sent.map((request) => `${request.method} ${request.url.pathname}${request.url.search}`)).toEqual([
      `GET /v1/subscriptions/${SUBSCRIPTION_ID}`,
      `DELETE /v1/subscriptions/${SUBSCRIPTION_ID}`,
      `GET /v1/subscriptions/${SUBSCRIPTION_ID}/deliveries?limit=2`,
      `GET /v1/subscriptions/${SUBSCRIPTION_ID}/deliveries?limit=2&cursor=d1`,
      `GET /v1/subscriptions/${SUBSCRIPTION_ID}/deliveries?limit=1`,
    ]);
  });

  it('retries a GET and a DELETE answered 503', async () => {
    // Prepare
    const unavailable = () => apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': '0' } });
    const { fetch, sent } = scriptedFetch(
      unavailable(),
      json(200, { ...subscription(1), request_id: 'r1' }),
      unavailable(),
      new Response(null, { status: 204 }),
    );
    const triggers = scriptedClient(fetch);

    // Act
    await triggers.subscriptions.get(SUBSCRIPTION_ID);
    await triggers.subscriptions.delete(SUBSCRIPTION_ID);

    // Assess
    expect(sent.map((request) => `${request.method} ${request.retryCount}`)).toEqual([
      'GET null',
      'GET 1',
      'DELETE null',
      'DELETE 1',
    ]);
  });
});

/** A listening server on 127.0.0.1; closed by `close`. */
async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An Express receiver written as sdk/README.md's: `express.raw` on the route, then
 * verifyWebhook with the secret registered for the path (`/hooks/<name>`).
 */
async function startReceiver() {
  const secrets = new Map<string, string>();
  const verified: WebhookEvent[] = [];
  const refused: string[] = [];
  const app = express();
  app.post('/hooks/:name', express.raw({ type: 'application/json' }), (req, res) => {
    let event: WebhookEvent;
    try {
      event = verifyWebhook(secrets.get(req.params.name) ?? 'whsec_AA==', req.headers, req.body as Buffer);
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      refused.push(error.message);
      res.status(400).send(error.message);
      return;
    }
    verified.push(event);
    res.sendStatus(204);
  });
  const server = await listen(app);
  return { ...server, secrets, verified, refused, hook: (name: string) => `${server.url}/hooks/${name}` };
}

describe('subscriptions helpers against the real server', () => {
  let t: TestApp;
  let deliverer: Deliverer;
  let api: Awaited<ReturnType<typeof listen>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let triggers: TriggersClient;

  beforeEach(async () => {
    let notify = () => {};
    t = await createTestApp({}, undefined, { onEventsCreated: () => notify() });
    deliverer = new Deliverer({
      webhooks: t.webhooks,
      events: t.store,
      clock: t.clock.read,
      logger: pino({ level: 'silent' }),
      poster: createPoster(new TargetGuard('local'), { timeoutMs: 15_000, socketsPerHost: 20 }),
      retryScheduleSeconds: [5, 300],
      concurrency: 50,
      concurrencyPerTarget: 20,
      claimMs: 31_000,
      userAgent: 'TriggersAPI-Webhooks/1.0.0',
      pollIntervalMs: 50,
      random: () => 0.5,
    });
    notify = () => deliverer.notify();
    deliverer.start();
    api = await listen(t.app);
    receiver = await startReceiver();
    triggers = createTriggersClient({ baseUrl: api.url, apiKey: DEV_KEY, timeoutMs: 10_000 });
  });

  afterEach(async () => {
    await deliverer.stop();
    await receiver.close();
    await api.close();
    await t.close();
  });

  /** Subscribes `/hooks/<name>` and lets the receiver verify with the answered secret. */
  async function subscribe(
    name: string,
    fields: Partial<Parameters<TriggersClient['subscriptions']['create']>[0]> = {},
  ) {
    const created = await triggers.subscriptions.create({ target_url: receiver.hook(name), ...fields });
    receiver.secrets.set(name, created.secret);
    // Subscriptions created in the same millisecond would list in id order only.
    t.clock.advance(1_000);
    return created;
  }

  it('create answers the subscription with its secret, which no later answer shows', async () => {
    // Act
    const created = await triggers.subscriptions.create({
      target_url: receiver.hook('orders'),
      event_types: ['order.*'],
      sources: ['shop'],
      description: 'orders to fulfilment',
    });
    const got = await triggers.subscriptions.get(created.subscription_id);
    const listed = await triggers.subscriptions.listPage();

    // Assess
    expect(created).toEqual({
      subscription_id: expect.stringMatching(/^sub_[0-9a-f]{32}$/),
      target_url: receiver.hook('orders'),
      event_types: ['order.*'],
      sources: ['shop'],
      description: 'orders to fulfilment',
      status: 'active',
      disabled_reason: null,
      created_at: new Date(t.clock.now).toISOString(),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      request_id: expect.any(String),
    });
    expect(Buffer.from(created.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    const { secret: _secret, request_id: _requestId, ...fields } = created;
    expect(got).toEqual({ ...fields, request_id: expect.any(String) });
    expect(listed.subscriptions).toEqual([fields]);
    expect(JSON.stringify([got, listed])).not.toContain(created.secret.slice('whsec_'.length));
  });

  it('lists subscriptions newest first, page by page, and list follows the cursors', async () => {
    // Prepare
    const ids: string[] = [];
    for (let n = 0; n < 5; n += 1) ids.push((await subscribe(`s${n}`)).subscription_id);
    const newestFirst = [...ids].reverse();

    // Act
    const first = await triggers.subscriptions.listPage({ limit: 2 });
    const second = await triggers.subscriptions.listPage({
      limit: 2,
      cursor: first.pagination.next_cursor ?? '',
    });
    const all: string[] = [];
    for await (const subscription of triggers.subscriptions.list({ limit: 2 }))
      all.push(subscription.subscription_id);

    // Assess
    expect(first.subscriptions.map((s) => s.subscription_id)).toEqual(newestFirst.slice(0, 2));
    expect(first.pagination).toEqual({ limit: 2, next_cursor: expect.any(String), has_more: true });
    expect(second.subscriptions.map((s) => s.subscription_id)).toEqual(newestFirst.slice(2, 4));
    expect(all).toEqual(newestFirst);
  });

  it('delete unsubscribes: get and deliveries throw NotFoundError after, a second delete resolves', async () => {
    // Prepare
    const { subscription_id } = await subscribe('gone');

    // Act
    await triggers.subscriptions.delete(subscription_id);
    const got = await rejectionOf(triggers.subscriptions.get(subscription_id));
    const log = await rejectionOf(triggers.subscriptions.deliveriesPage(subscription_id));
    const again = await triggers.subscriptions.delete(subscription_id);
    await triggers.events.create({ source: 'shop', event_type: 'order.created', payload: {} });
    await deliverer.idle();

    // Assess
    expect(got).toBeInstanceOf(NotFoundError);
    expect(got).toMatchObject({ status: 404, code: 'NOT_FOUND', requestId: expect.any(String) });
    expect(log).toBeInstanceOf(NotFoundError);
    expect(again).toBeUndefined();
    expect(await triggers.subscriptions.listPage()).toMatchObject({ subscriptions: [] });
    expect(receiver.verified).toEqual([]);
  });

  it('delivers matching events that verifyWebhook accepts, as events.get shows them, and logs each attempt', async () => {
    // Prepare
    const { subscription_id } = await subscribe('orders', { event_types: ['order.*'] });

    // Act
    const ids: string[] = [];
    for (let n = 0; n < 3; n += 1) {
      ids.push(
        (
          await triggers.events.create({
            source: 'shop',
            event_type: 'order.paid',
            payload: { n, note: 'é ✓' },
          })
        ).event_id,
      );
    }
    await triggers.events.create({ source: 'shop', event_type: 'user.signup', payload: {} });
    await until(() => receiver.verified.length === 3, 'three webhooks verified');
    await deliverer.idle();
    const page = await triggers.subscriptions.deliveriesPage(subscription_id, { limit: 2 });
    const attempts: DeliveryAttempt[] = [];
    for await (const attempt of triggers.subscriptions.deliveries(subscription_id, { limit: 2 }))
      attempts.push(attempt);

    // Assess
    const byId = new Map(receiver.verified.map((event) => [event.event_id, event]));
    for (const id of ids) {
      const { request_id: _requestId, ...shown } = await triggers.events.get(id);
      expect(byId.get(id)).toEqual(shown);
    }
    expect(receiver.refused).toEqual([]);
    expect(page.deliveries).toHaveLength(2);
    expect(page.pagination).toMatchObject({ limit: 2, has_more: true });
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((attempt) => attempt.event_id))).toEqual(new Set(ids));
    const times = attempts.map((attempt) => attempt.attempted_at);
    expect(times).toEqual([...times].sort().reverse());
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({
        attempt: 1,
        status_code: 204,
        outcome: 'succeeded',
        error: null,
        next_attempt_at: null,
      });
    }
  });

  it('logs a webhook the receiver refused with the wrong secret as retrying, with its 400', async () => {
    // Prepare: the receiver verifies with another subscription's secret
    const { subscription_id } = await subscribe('mixed-up');
    receiver.secrets.set(
      'mixed-up',
      (await triggers.subscriptions.create({ target_url: `${receiver.url}/elsewhere` })).secret,
    );

    // Act
    const { event_id } = await triggers.events.create({
      source: 'shop',
      event_type: 'order.paid',
      payload: {},
    });
    await until(() => receiver.refused.length === 1, 'the webhook refused');
    await deliverer.idle();
    const [attempt] = (await triggers.subscriptions.deliveriesPage(subscription_id)).deliveries;

    // Assess
    expect(receiver.refused[0]).toMatch(/^No signature in webhook-signature matches the body/);
    expect(attempt).toMatchObject({ event_id, attempt: 1, status_code: 400, outcome: 'retrying' });
    expect(attempt?.next_attempt_at).toEqual(expect.any(String));
  });

  it('throws the SDK error classes for a refused create, a missing scope, an unknown id and a bad cursor', async () => {
    // Prepare
    const readOnly = createTriggersClient({
      baseUrl: api.url,
      apiKey: await t.createKey({ tenant: 'local', scopes: ['events:read'] }),
      timeoutMs: 10_000,
    });

    // Act
    const invalid = await rejectionOf(
      triggers.subscriptions.create({ target_url: 'ftp://example.com/hooks' }),
    );
    const badPattern = await rejectionOf(
      triggers.subscriptions.create({ target_url: receiver.hook('x'), event_types: ['order*'] }),
    );
    const forbidden = await rejectionOf(readOnly.subscriptions.listPage());
    const missing = await rejectionOf(triggers.subscriptions.get('sub_0193a1c42b7d4f3e9a615c2d7e8f9a0b'));
    const badCursor = await rejectionOf(triggers.subscriptions.listPage({ cursor: 'not-a-cursor' }));

    // Assess
    expect(invalid).toBeInstanceOf(ValidationError);
    expect(invalid).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
    expect(badPattern).toBeInstanceOf(ValidationError);
    expect(forbidden).toBeInstanceOf(PermissionError);
    expect(forbidden).toMatchObject({ details: { required_scope: 'subscriptions:manage' } });
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(badCursor).toBeInstanceOf(ValidationError);
    expect(badCursor).toMatchObject({ code: 'INVALID_CURSOR' });
  });

  it('throws ConflictError with too_many_subscriptions past 50 subscriptions', async () => {
    // Prepare
    for (let n = 0; n < 50; n += 1)
      await triggers.subscriptions.create({ target_url: receiver.hook(`n${n}`) });

    // Act
    const error = await rejectionOf(triggers.subscriptions.create({ target_url: receiver.hook('one-more') }));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, details: { reason: 'too_many_subscriptions' } });
  });
});
