import {
  createTriggersClient,
  type DeliveryAttempt,
  ServerError,
  type Subscription,
  type TriggersClientOptions,
} from '../../sdk/src/index';
import { rejectionOf } from '../helpers/rejection';
import { apiError, json, scriptedFetch } from './scripted-fetch';

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
