import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { parseRetryAfter } from '../../sdk/src/errors';
import {
  AuthenticationError,
  ConflictError,
  type components,
  createTriggersClient,
  type Event,
  IdempotencyError,
  type InboxPage,
  NotFoundError,
  PayloadTooLargeError,
  PermissionError,
  RateLimitError,
  ServerError,
  TriggersApiError,
  type TriggersClientOptions,
  TriggersConnectionError,
  ValidationError,
} from '../../sdk/src/index';
import { TO_ARRAY_MAX } from '../../sdk/src/paginate';
import { backoff, retryingFetch } from '../../sdk/src/retry';
import { rejectionOf } from '../helpers/rejection';
import { type Answer, apiError, event, json, scriptedFetch } from './scripted-fetch';

const sdkPackage = JSON.parse(readFileSync(path.join(__dirname, '../../sdk/package.json'), 'utf8')) as {
  version: string;
};

// ---------------------------------------------------------------------------------------------
// The injected fetch (./scripted-fetch) records every request and answers from a script.
// ---------------------------------------------------------------------------------------------

const BASE_URL = 'http://api.test';
const API_KEY = 'tk_unit_secret';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A retryable answer the client retries at once (Retry-After: 0 makes the wait 0 ms). */
const unavailable = () => apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': '0' } });

function events(from: number, to: number): Event[] {
  return Array.from({ length: to - from + 1 }, (_, i) => event(from + i));
}

function page(items: Event[], nextCursor: string | null, hasMore: boolean, limit = 50): Response {
  const body: InboxPage = {
    events: items,
    pagination: { limit, next_cursor: nextCursor, has_more: hasMore },
    request_id: 'req-page',
  };
  return json(200, body);
}

const created = (eventId = event(1).event_id) =>
  json(201, {
    event_id: eventId,
    created_at: '2025-01-01T00:00:00.000Z',
    status: 'pending',
    expires_at: '2025-01-08T00:00:00.000Z',
    request_id: 'req-created',
  });

const INPUT: components['schemas']['EventInput'] = {
  source: 'shop',
  event_type: 'order.created',
  payload: { order_id: 'ord_1', total: 12.5 },
};

function client(fetch: typeof globalThis.fetch, options: Partial<TriggersClientOptions> = {}) {
  return createTriggersClient({
    baseUrl: BASE_URL,
    apiKey: API_KEY,
    fetch,
    maxRetries: 2,
    timeoutMs: 1_000,
    ...options,
  });
}

/**
 * createTriggersClient takes no sleep or random hook (by design): its backoff between
 * retries is Math.random() × window, so pinning Math.random to 0 before a client is made
 * makes every backoff wait 0 ms. Retry-After: 0 does the same for 429 and 503 answers.
 */
function instantBackoff() {
  beforeEach(() => {
    jest.spyOn(Math, 'random').mockReturnValue(0);
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });
}

// ---------------------------------------------------------------------------------------------
// retryingFetch, directly: exact waits through the injected sleep and random.
// ---------------------------------------------------------------------------------------------

/** Waits the retry loop asked for, without waiting; random answers from a list (or one value). */
function timing(random: number | number[] = 1) {
  const waits: number[] = [];
  const values = Array.isArray(random) ? [...random] : undefined;
  return {
    waits,
    sleep: async (ms: number) => {
      waits.push(ms);
    },
    random: jest.fn(() => (values ? (values.shift() ?? 1) : (random as number))),
  };
}

const getRequest = (init: RequestInit = {}) => new Request(`${BASE_URL}/v1/inbox`, init);
const postRequest = (headers: Record<string, string> = {}) =>
  new Request(`${BASE_URL}/v1/events`, {
    method: 'POST',
    body: JSON.stringify(INPUT),
    headers: { 'Content-Type': 'application/json', ...headers },
  });

describe('retryingFetch backoff', () => {
  it('waits random × min(cap, base × 2^(n-1)) before the n-th retry (full jitter)', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      apiError(503, 'UNAVAILABLE'),
      apiError(503, 'UNAVAILABLE'),
      'network-error',
      apiError(502, 'INTERNAL_ERROR'),
      json(200, { ok: true }),
    );
    const clock = timing([0.5, 0.25, 1, 0]);
    const retrying = retryingFetch(fetch, {
      maxRetries: 4,
      timeoutMs: 1_000,
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      ...clock,
    });

    // Act
    const response = await retrying(getRequest());

    // Assess: windows 100, 200, 400, 800 scaled by 0.5, 0.25, 1, 0
    expect(response.status).toBe(200);
    expect(clock.waits).toEqual([50, 50, 400, 0]);
    expect(sent).toHaveLength(5);
  });

  it('never lets the window grow past maxDelayMs', async () => {
    // Prepare
    const { fetch } = scriptedFetch(...Array<Answer>(6).fill('network-error'), json(200, {}));
    const clock = timing(1);
    const retrying = retryingFetch(fetch, {
      maxRetries: 6,
      timeoutMs: 1_000,
      baseDelayMs: 1_000,
      maxDelayMs: 5_000,
      ...clock,
    });

    // Act
    await retrying(getRequest());

    // Assess
    expect(clock.waits).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
  });

  it('defaults to a 500 ms base and a 20 s cap', async () => {
    // Prepare
    const { fetch } = scriptedFetch(...Array<Answer>(7).fill('network-error'), json(200, {}));
    const clock = timing(1);
    const retrying = retryingFetch(fetch, { maxRetries: 7, timeoutMs: 1_000, ...clock });

    // Act
    await retrying(getRequest());

    // Assess
    expect(clock.waits).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 20_000]);
  });

  it('draws every wait from [0, min(cap, base × 2^(n-1))]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (retry, base, cap, r) => {
          // Act
          const wait = backoff(retry, base, cap, () => r);

          // Assess
          const window = Math.min(cap, base * 2 ** (retry - 1));
          expect(wait).toBeGreaterThanOrEqual(0);
          expect(wait).toBeLessThanOrEqual(window);
          expect(wait).toBeCloseTo(r * window, 6);
        },
      ),
    );
  });
});

describe('retryingFetch and Retry-After', () => {
  it.each([
    ['3', 3_000],
    ['0', 0],
    ['1.5', 1_500],
    ['120', 20_000],
  ])(
    'waits Retry-After: %s seconds as %i ms instead of a backoff (capped at maxDelayMs)',
    async (header, wait) => {
      // Prepare
      const { fetch, sent } = scriptedFetch(
        apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': header } }),
        json(200, {}),
      );
      const clock = timing(0.5);
      const retrying = retryingFetch(fetch, { maxRetries: 1, timeoutMs: 1_000, ...clock });

      // Act
      const response = await retrying(getRequest());

      // Assess
      expect(response.status).toBe(200);
      expect(sent).toHaveLength(2);
      expect(clock.waits).toEqual([wait]);
      expect(clock.random).not.toHaveBeenCalled();
    },
  );

  it('honours Retry-After on a 429 as well', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      apiError(429, 'RATE_LIMITED', { headers: { 'Retry-After': '2' } }),
      json(200, {}),
    );
    const clock = timing(0.5);
    const retrying = retryingFetch(fetch, { maxRetries: 1, timeoutMs: 1_000, ...clock });

    // Act
    await retrying(getRequest());

    // Assess
    expect(sent).toHaveLength(2);
    expect(clock.waits).toEqual([2_000]);
  });

  it('waits until the HTTP date of Retry-After', async () => {
    // Prepare: HTTP dates have whole seconds, so the wait is between 9 and 10 s
    const date = new Date(Date.now() + 10_000).toUTCString();
    const { fetch } = scriptedFetch(
      apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': date } }),
      json(200, {}),
    );
    const clock = timing(0.5);
    const retrying = retryingFetch(fetch, { maxRetries: 1, timeoutMs: 1_000, ...clock });

    // Act
    await retrying(getRequest());

    // Assess
    expect(clock.waits).toHaveLength(1);
    expect(clock.waits[0]).toBeGreaterThan(8_000);
    expect(clock.waits[0]).toBeLessThanOrEqual(10_000);
  });

  it('caps an HTTP date far ahead at maxDelayMs, and waits 0 ms for one in the past', async () => {
    // Prepare
    const later = new Date(Date.now() + 3_600_000).toUTCString();
    const earlier = new Date(Date.now() - 3_600_000).toUTCString();
    const { fetch } = scriptedFetch(
      apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': later } }),
      apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': earlier } }),
      json(200, {}),
    );
    const clock = timing(0.5);
    const retrying = retryingFetch(fetch, { maxRetries: 2, timeoutMs: 1_000, maxDelayMs: 7_000, ...clock });

    // Act
    await retrying(getRequest());

    // Assess
    expect(clock.waits).toEqual([7_000, 0]);
  });

  it('falls back to the backoff when Retry-After cannot be read', async () => {
    // Prepare
    const { fetch } = scriptedFetch(
      apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': 'soon' } }),
      json(200, {}),
    );
    const clock = timing(0.5);
    const retrying = retryingFetch(fetch, { maxRetries: 1, timeoutMs: 1_000, baseDelayMs: 100, ...clock });

    // Act
    await retrying(getRequest());

    // Assess
    expect(clock.waits).toEqual([50]);
  });

  it('reads seconds and HTTP dates in parseRetryAfter', () => {
    // Prepare
    const now = Date.parse('2025-01-01T00:00:00.000Z');

    // Act and Assess
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('-3', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('retryingFetch decisions', () => {
  it.each([429, 500, 502, 503, 504])('retries a GET answered %i', async (status) => {
    // Prepare
    const { fetch, sent } = scriptedFetch(apiError(status, 'X'), json(200, { ok: true }));
    const retrying = retryingFetch(fetch, { maxRetries: 1, timeoutMs: 1_000, ...timing(0) });

    // Act
    const response = await retrying(getRequest());

    // Assess
    expect(response.status).toBe(200);
    expect(sent).toHaveLength(2);
  });

  it.each([400, 401, 403, 404, 405, 409, 413, 415, 422, 501])('returns a %i at once', async (status) => {
    // Prepare
    const { fetch, sent } = scriptedFetch(apiError(status, 'X'));
    const clock = timing(0);
    const retrying = retryingFetch(fetch, { maxRetries: 3, timeoutMs: 1_000, ...clock });

    // Act
    const response = await retrying(getRequest());

    // Assess
    expect(response.status).toBe(status);
    expect(sent).toHaveLength(1);
    expect(clock.waits).toEqual([]);
  });

  it('retries network errors and numbers each retry in X-Retry-Count', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('network-error', 'network-error', json(200, { ok: true }));
    const retrying = retryingFetch(fetch, { maxRetries: 2, timeoutMs: 1_000, ...timing(0) });

    // Act
    const response = await retrying(getRequest());

    // Assess
    expect(await response.json()).toEqual({ ok: true });
    expect(sent.map((s) => s.retryCount)).toEqual([null, '1', '2']);
  });

  it('gives up after maxRetries with a TriggersConnectionError that keeps the cause', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('network-error', 'network-error', 'network-error', json(200, {}));
    const retrying = retryingFetch(fetch, { maxRetries: 2, timeoutMs: 1_000, ...timing(0) });

    // Act
    const error = await rejectionOf(retrying(getRequest()));

    // Assess
    expect(error).toBeInstanceOf(TriggersConnectionError);
    expect((error as Error).message).toMatch(/fetch failed.*after 3 attempts/);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(sent).toHaveLength(3);
  });

  it('hands back the last retryable answer, body intact, once the retries are spent', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      apiError(503, 'UNAVAILABLE'),
      apiError(503, 'UNAVAILABLE'),
      json(200, {}),
    );
    const retrying = retryingFetch(fetch, { maxRetries: 1, timeoutMs: 1_000, ...timing(0) });

    // Act
    const response = await retrying(getRequest());

    // Assess
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    expect(sent).toHaveLength(2);
  });

  it('retries a POST that carries an Idempotency-Key, resending the same key and body', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(apiError(503, 'UNAVAILABLE'), 'network-error', created());
    const retrying = retryingFetch(fetch, { maxRetries: 2, timeoutMs: 1_000, ...timing(0) });

    // Act
    const response = await retrying(postRequest({ 'Idempotency-Key': 'key-1' }));

    // Assess
    expect(response.status).toBe(201);
    expect(sent.map((s) => s.idempotencyKey)).toEqual(['key-1', 'key-1', 'key-1']);
    expect(sent.map((s) => s.body)).toEqual(Array(3).fill(JSON.stringify(INPUT)));
    expect(sent.map((s) => s.retryCount)).toEqual([null, '1', '2']);
  });

  it('never retries a POST without an Idempotency-Key', async () => {
    // Prepare
    const answered = scriptedFetch(apiError(503, 'UNAVAILABLE'), created());
    const failed = scriptedFetch('network-error', created());
    const clock = timing(0);

    // Act
    const response = await retryingFetch(answered.fetch, { maxRetries: 3, timeoutMs: 1_000, ...clock })(
      postRequest(),
    );
    const error = await rejectionOf(
      retryingFetch(failed.fetch, { maxRetries: 3, timeoutMs: 1_000, ...clock })(postRequest()),
    );

    // Assess
    expect(response.status).toBe(503);
    expect(answered.sent).toHaveLength(1);
    expect(error).toBeInstanceOf(TriggersConnectionError);
    expect((error as Error).message).toMatch(/after 1 attempt\./);
    expect(failed.sent).toHaveLength(1);
    expect(clock.waits).toEqual([]);
  });

  it('aborts an attempt after timeoutMs and retries it', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('hang', 'hang', 'hang', json(200, {}));
    const clock = timing(0);
    const retrying = retryingFetch(fetch, { maxRetries: 2, timeoutMs: 5, ...clock });

    // Act
    const error = await rejectionOf(retrying(getRequest()));

    // Assess
    expect(error).toBeInstanceOf(TriggersConnectionError);
    expect((error as Error).message).toMatch(/timed out.*after 3 attempts/);
    expect(sent).toHaveLength(3);
    for (const attempt of sent) expect(attempt.signal?.reason).toMatchObject({ name: 'TimeoutError' });
    expect(clock.waits).toHaveLength(2);
  });

  it("passes the caller's own abort through without a retry", async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('hang', json(200, {}));
    const clock = timing(0);
    const retrying = retryingFetch(fetch, { maxRetries: 3, timeoutMs: 10_000, ...clock });
    const controller = new AbortController();

    // Act
    const pending = rejectionOf(retrying(getRequest({ signal: controller.signal })));
    setTimeout(() => controller.abort(), 10);
    const error = await pending;

    // Assess
    expect(error).not.toBeInstanceOf(TriggersConnectionError);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(sent).toHaveLength(1);
    expect(clock.waits).toEqual([]);
  });

  it('rejects at once, without a retry, when the caller aborted before the call', async () => {
    // Prepare
    const { fetch, sent, calls } = scriptedFetch(json(200, {}));
    const clock = timing(0);
    const retrying = retryingFetch(fetch, { maxRetries: 3, timeoutMs: 1_000, ...clock });

    // Act
    const error = await rejectionOf(retrying(getRequest({ signal: AbortSignal.abort() })));

    // Assess
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(calls()).toBe(1);
    expect(sent).toHaveLength(0);
    expect(clock.waits).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// createTriggersClient with an injected fetch.
// ---------------------------------------------------------------------------------------------

describe('createTriggersClient requests', () => {
  it('sends the key, its client header and JSON to the base URL without its trailing slash', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(created());
    const triggers = client(fetch, { baseUrl: `${BASE_URL}//`, userAgent: 'my-app/1.2' });

    // Act
    const result = await triggers.events.create(INPUT);

    // Assess
    expect(result).toMatchObject({ event_id: event(1).event_id, status: 'pending' });
    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request?.method).toBe('POST');
    expect(request?.url.href).toBe(`${BASE_URL}/v1/events`);
    expect(request?.headers.get('x-api-key')).toBe(API_KEY);
    expect(request?.headers.get('x-triggers-client')).toBe(
      `triggers-sdk-js/${sdkPackage.version} my-app/1.2`,
    );
    expect(request?.headers.get('content-type')).toBe('application/json');
    expect(request?.retryCount).toBeNull();
    expect(JSON.parse(request?.body ?? '')).toEqual(INPUT);
  });
});

describe('createTriggersClient idempotency', () => {
  instantBackoff();

  it('sends one generated Idempotency-Key on every attempt of events.create', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(unavailable(), 'network-error', created());
    const triggers = client(fetch, { maxRetries: 2 });

    // Act
    const result = await triggers.events.create(INPUT);

    // Assess
    expect(result.event_id).toBe(event(1).event_id);
    expect(sent).toHaveLength(3);
    const [first] = sent;
    expect(first?.idempotencyKey).toMatch(UUID);
    expect(sent.map((s) => s.idempotencyKey)).toEqual(Array(3).fill(first?.idempotencyKey));
    expect(sent.map((s) => s.retryCount)).toEqual([null, '1', '2']);
    expect(sent.map((s) => s.body)).toEqual(Array(3).fill(JSON.stringify(INPUT)));
  });

  it('sends one generated Idempotency-Key on every attempt of events.createMany', async () => {
    // Prepare
    const bulk = {
      successful: [0, 1].map((index) => ({
        index,
        event_id: event(index + 1).event_id,
        created_at: '2025-01-01T00:00:00.000Z',
        status: 'pending',
        replayed: false,
      })),
      failed: [],
      request_id: 'req-bulk',
    };
    const { fetch, sent } = scriptedFetch('network-error', unavailable(), json(200, bulk));
    const triggers = client(fetch, { maxRetries: 2 });

    // Act
    const result = await triggers.events.createMany([INPUT, { ...INPUT, event_type: 'order.paid' }]);

    // Assess
    expect(result.successful).toHaveLength(2);
    expect(sent).toHaveLength(3);
    expect(sent[0]?.url.pathname).toBe('/v1/events/bulk');
    expect(sent[0]?.idempotencyKey).toMatch(UUID);
    expect(new Set(sent.map((s) => s.idempotencyKey)).size).toBe(1);
    expect(sent.map((s) => s.retryCount)).toEqual([null, '1', '2']);
    for (const attempt of sent) {
      expect(JSON.parse(attempt.body)).toEqual({ items: [INPUT, { ...INPUT, event_type: 'order.paid' }] });
    }
  });

  it('makes a fresh key for each call', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(created(), created(), json(200, { successful: [], failed: [] }));
    const triggers = client(fetch);

    // Act
    await triggers.events.create(INPUT);
    await triggers.events.create(INPUT);
    await triggers.events.createMany([INPUT]);

    // Assess
    const keys = sent.map((s) => s.idempotencyKey);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(3);
  });

  it('uses the caller’s key on every attempt when one is given', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      unavailable(),
      created(),
      unavailable(),
      json(200, { successful: [] }),
    );
    const triggers = client(fetch, { maxRetries: 1 });

    // Act
    await triggers.events.create(INPUT, { idempotencyKey: 'order-1001' });
    await triggers.events.createMany([INPUT], { idempotencyKey: 'batch-7' });

    // Assess
    expect(sent.map((s) => s.idempotencyKey)).toEqual(['order-1001', 'order-1001', 'batch-7', 'batch-7']);
  });

  // Regression test of a fixed SDK bug: the contract lets an event carry its key in metadata.idempotency_key
  // and answers 400 when the header names another one; create() adds a random header key, so
  // every such create is refused (see the e2e test of the same name).
  it('sends metadata.idempotency_key as the Idempotency-Key when the caller gives no other', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(created());
    const triggers = client(fetch);

    // Act
    await triggers.events.create({ ...INPUT, metadata: { idempotency_key: 'order-1001-paid' } });

    // Assess
    expect(sent[0]?.idempotencyKey).toBe('order-1001-paid');
  });

  it('says whether events.create replayed an earlier create, from the Idempotent-Replayed header', async () => {
    // Prepare: a first answer, then the same answer replayed
    const replay = created();
    replay.headers.set('Idempotent-Replayed', 'true');
    const { fetch } = scriptedFetch(created(), replay);
    const triggers = client(fetch);

    // Act
    const first = await triggers.events.create(INPUT, { idempotencyKey: 'order-1001' });
    const again = await triggers.events.create(INPUT, { idempotencyKey: 'order-1001' });

    // Assess: the body as the API sent it, plus `replayed`
    const body = {
      event_id: event(1).event_id,
      created_at: '2025-01-01T00:00:00.000Z',
      status: 'pending',
      expires_at: '2025-01-08T00:00:00.000Z',
      request_id: 'req-created',
    };
    expect(first).toEqual({ ...body, replayed: false });
    expect(again).toEqual({ ...body, replayed: true });
  });

  it('gives up with a ServerError once the retries are spent', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(unavailable(), unavailable(), unavailable(), created());
    const triggers = client(fetch, { maxRetries: 2 });

    // Act
    const error = await rejectionOf(triggers.events.create(INPUT));

    // Assess
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
    expect(sent).toHaveLength(3);
  });
});

describe('createTriggersClient POSTs without a key', () => {
  instantBackoff();

  const ackResult = {
    event_id: event(1).event_id,
    status: 'acknowledged',
    acknowledged_at: '2025-01-01T00:00:01.000Z',
    request_id: 'req-ack',
  };

  // An ack without a lease id that got through once answers 409 when repeated: not retried.
  // (With a lease id it is: see leases.test.ts.)
  it.each([
    ['ack without a lease id', (t: ReturnType<typeof client>) => t.events.ack(event(1).event_id)],
    ['ackMany', (t: ReturnType<typeof client>) => t.events.ackMany([event(1).event_id, event(2).event_id])],
    ['redeliver', (t: ReturnType<typeof client>) => t.events.redeliver(event(1).event_id)],
    ['redeliverMany', (t: ReturnType<typeof client>) => t.events.redeliverMany([event(1).event_id])],
    ['inbox.lease', (t: ReturnType<typeof client>) => t.inbox.lease({ limit: 1 })],
  ])('%s is sent once, with no Idempotency-Key, whatever the answer', async (_name, call) => {
    // Prepare
    const answeredUnavailable = scriptedFetch(unavailable(), json(200, ackResult));
    const answeredRateLimited = scriptedFetch(
      apiError(429, 'RATE_LIMITED', { headers: { 'Retry-After': '0' } }),
      json(200, ackResult),
    );
    const dropped = scriptedFetch('network-error', json(200, ackResult));

    // Act
    const errors = [
      await rejectionOf(call(client(answeredUnavailable.fetch, { maxRetries: 3 }))),
      await rejectionOf(call(client(answeredRateLimited.fetch, { maxRetries: 3 }))),
      await rejectionOf(call(client(dropped.fetch, { maxRetries: 3 }))),
    ];

    // Assess
    expect(errors[0]).toBeInstanceOf(ServerError);
    expect(errors[1]).toBeInstanceOf(RateLimitError);
    expect(errors[2]).toBeInstanceOf(TriggersConnectionError);
    for (const { sent } of [answeredUnavailable, answeredRateLimited, dropped]) {
      expect(sent).toHaveLength(1);
      expect(sent[0]?.method).toBe('POST');
      expect(sent[0]?.idempotencyKey).toBeNull();
    }
  });

  it('ack and ackMany call their paths with their bodies', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      json(200, ackResult),
      json(200, { successful: [], failed: [], request_id: 'r' }),
    );
    const triggers = client(fetch);

    // Act
    await triggers.events.ack(event(1).event_id);
    await triggers.events.ackMany([event(1).event_id]);

    // Assess
    expect(sent.map((s) => s.url.pathname)).toEqual([
      `/v1/events/${event(1).event_id}/ack`,
      '/v1/events/bulk/ack',
    ]);
    expect(sent[0]?.body).toBe('');
    expect(JSON.parse(sent[1]?.body ?? '')).toEqual({ event_ids: [event(1).event_id] });
  });
});

describe('createTriggersClient reads and deletes', () => {
  instantBackoff();

  it.each([
    ['a 503', unavailable],
    ['a 429', () => apiError(429, 'RATE_LIMITED', { headers: { 'Retry-After': '0' } })],
    ['a network error', () => 'network-error' as const],
  ])('retries a GET after %s', async (_name, failure) => {
    // Prepare
    const { fetch, sent } = scriptedFetch(failure(), json(200, { ...event(1), request_id: 'req-get' }));
    const triggers = client(fetch, { maxRetries: 1 });

    // Act
    const got = await triggers.events.get(event(1).event_id);

    // Assess
    expect(got).toMatchObject({ event_id: event(1).event_id, payload: { n: 1 } });
    expect(sent.map((s) => [s.method, s.url.pathname, s.retryCount])).toEqual([
      ['GET', `/v1/events/${event(1).event_id}`, null],
      ['GET', `/v1/events/${event(1).event_id}`, '1'],
    ]);
  });

  it('retries inbox.list, me and delete as well', async () => {
    // Prepare
    const me = { tenant_id: 'local', key_id: 'dev', source: 'dev', scopes: ['events:read'], request_id: 'r' };
    const { fetch, sent } = scriptedFetch(
      'network-error',
      page([event(1)], null, false),
      unavailable(),
      json(200, me),
      unavailable(),
      new Response(null, { status: 204 }),
    );
    const triggers = client(fetch, { maxRetries: 1 });

    // Act
    const listed = await triggers.inbox.list({ limit: 5 });
    const who = await triggers.me();
    const deleted = await triggers.events.delete(event(1).event_id);

    // Assess
    expect(listed.events).toHaveLength(1);
    expect(who.tenant_id).toBe('local');
    expect(deleted).toBeUndefined();
    expect(sent.map((s) => `${s.method} ${s.url.pathname} ${s.retryCount}`)).toEqual([
      'GET /v1/inbox null',
      'GET /v1/inbox 1',
      'GET /v1/me null',
      'GET /v1/me 1',
      `DELETE /v1/events/${event(1).event_id} null`,
      `DELETE /v1/events/${event(1).event_id} 1`,
    ]);
  });

  it('turns attempts that never answer into a TriggersConnectionError after the retries', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('hang', 'hang', 'hang', json(200, {}));
    const triggers = client(fetch, { maxRetries: 2, timeoutMs: 20 });

    // Act
    const error = await rejectionOf(triggers.events.get(event(1).event_id));

    // Assess
    expect(error).toBeInstanceOf(TriggersConnectionError);
    expect((error as Error).message).toMatch(/timed out.*after 3 attempts/);
    expect((error as Error).cause).toMatchObject({ name: 'TimeoutError' });
    expect(sent).toHaveLength(3);
  });

  it("stops at the caller's own abort of a raw request, without a retry", async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('hang', json(200, {}));
    const triggers = client(fetch, { maxRetries: 3, timeoutMs: 10_000 });
    const controller = new AbortController();

    // Act
    const pending = rejectionOf(triggers.raw.GET('/v1/me', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 10);
    const error = await pending;

    // Assess
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(error).not.toBeInstanceOf(TriggersConnectionError);
    expect(sent).toHaveLength(1);
  });

  // Regression test of a fixed SDK bug: the wait between attempts (up to maxDelayMs, 20 s, with Retry-After)
  // is a plain setTimeout that the caller's signal cannot cut short, so an abort takes effect
  // only when the wait is over.
  it("ends the wait before a retry as soon as the caller's signal aborts", async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': '2' } }));
    const triggers = client(fetch, { maxRetries: 3 });
    const controller = new AbortController();
    const started = Date.now();

    // Act
    const pending = rejectionOf(triggers.raw.GET('/v1/me', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    const error = await pending;

    // Assess
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(sent).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Error mapping: every code of the contract.
// ---------------------------------------------------------------------------------------------

type ContractCode = components['schemas']['ErrorCode'];

/** Keyed by the generated ErrorCode type: tsc fails when the contract gains a code. */
const ERRORS: Record<
  ContractCode,
  { status: number; type: typeof TriggersApiError; details: Record<string, unknown> }
> = {
  VALIDATION_ERROR: {
    status: 400,
    type: ValidationError,
    details: { errors: [{ path: '/body/source', message: 'must not be blank' }] },
  },
  INVALID_CURSOR: { status: 400, type: ValidationError, details: {} },
  UNAUTHORIZED: { status: 401, type: AuthenticationError, details: {} },
  FORBIDDEN: { status: 403, type: PermissionError, details: { required_scope: 'events:ack' } },
  NOT_FOUND: { status: 404, type: NotFoundError, details: {} },
  METHOD_NOT_ALLOWED: { status: 405, type: TriggersApiError, details: { allow: ['GET'] } },
  CONFLICT: {
    status: 409,
    type: ConflictError,
    details: { current_status: 'acknowledged', acknowledged_at: '2025-01-01T00:00:01.000Z' },
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    type: PayloadTooLargeError,
    details: { limit_bytes: 409_600, actual_bytes: 409_601 },
  },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, type: TriggersApiError, details: {} },
  IDEMPOTENCY_KEY_REUSED: { status: 422, type: IdempotencyError, details: { idempotency_key: 'k' } },
  RATE_LIMITED: { status: 429, type: RateLimitError, details: {} },
  INTERNAL_ERROR: { status: 500, type: ServerError, details: {} },
  UNAVAILABLE: { status: 503, type: ServerError, details: {} },
  NOT_READY: { status: 503, type: ServerError, details: { reason: 'write_failed' } },
};

describe('createTriggersClient errors', () => {
  it('knows every error code of the contract', () => {
    // Prepare
    const spec = parse(readFileSync(path.resolve(__dirname, '../../openapi/triggers.v1.yaml'), 'utf8'));

    // Act
    const codes: string[] = spec.components.schemas.ErrorCode.enum;

    // Assess
    expect(Object.keys(ERRORS).sort()).toEqual([...codes].sort());
  });

  it.each(Object.entries(ERRORS))(
    'maps %s to its class with status, code, details and request id',
    async (code, want) => {
      // Prepare
      const headers: Record<string, string> = want.status === 429 ? { 'Retry-After': '7' } : {};
      const { fetch, sent } = scriptedFetch(apiError(want.status, code, { details: want.details, headers }));
      const triggers = client(fetch, { maxRetries: 0 });

      // Act
      const error = await rejectionOf(triggers.me());

      // Assess
      expect(sent).toHaveLength(1);
      expect(error).toBeInstanceOf(TriggersApiError);
      expect((error as object).constructor).toBe(want.type);
      expect(error).toMatchObject({
        name: want.type.name,
        status: want.status,
        code,
        message: `message of ${code}`,
        details: want.details,
        requestId: `req-${code}`,
      });
      if (error instanceof RateLimitError) expect(error.retryAfter).toBe(7);
    },
  );

  it('types the details of each error class, without a cast, from the answer', async () => {
    // Prepare
    const { fetch } = scriptedFetch(
      apiError(400, 'VALIDATION_ERROR', {
        details: { errors: [{ path: '/body/source', message: 'must not be blank' }] },
      }),
      apiError(409, 'CONFLICT', {
        details: { current_status: 'acknowledged', acknowledged_at: '2025-01-01T00:00:01.000Z' },
      }),
      apiError(409, 'CONFLICT', { details: { reason: 'lease_mismatch', current_status: 'pending' } }),
      apiError(413, 'PAYLOAD_TOO_LARGE', { details: { limit_bytes: 409_600, actual_bytes: 409_601 } }),
      apiError(422, 'IDEMPOTENCY_KEY_REUSED', {
        details: { idempotency_key: 'k', event_id: event(1).event_id },
      }),
      apiError(429, 'RATE_LIMITED', { details: { retry_after_seconds: 7 } }),
      apiError(403, 'FORBIDDEN', { details: { required_scope: 'events:ack' } }),
    );
    const triggers = client(fetch, { maxRetries: 0 });

    // Act
    const seen: unknown[] = [];
    for (let n = 0; n < 7; n += 1) {
      const error = await rejectionOf(triggers.events.ack(event(1).event_id));
      // The fields each class's details declare, read with their declared types
      if (error instanceof ValidationError) {
        const path: string | undefined = error.details.errors[0]?.path;
        const message: string | undefined = error.details.errors[0]?.message;
        // @ts-expect-error: a path is a string, not a number
        const wrong: number | undefined = error.details.errors[0]?.path;
        seen.push([path, message, wrong === path]);
      } else if (error instanceof ConflictError) {
        const status: 'pending' | 'acknowledged' | 'dead' | undefined = error.details.current_status;
        const at: string | null | undefined = error.details.acknowledged_at;
        seen.push([status, at, error.details.reason === 'lease_mismatch']);
      } else if (error instanceof PayloadTooLargeError) {
        const limit: number | undefined = error.details.limit_bytes;
        seen.push([limit, error.details.actual_bytes]);
      } else if (error instanceof IdempotencyError) {
        const key: string | undefined = error.details.idempotency_key;
        seen.push([key, error.details.event_id]);
      } else if (error instanceof RateLimitError) {
        const seconds: number | undefined = error.details.retry_after_seconds;
        seen.push([seconds]);
      } else if (error instanceof PermissionError) {
        const scope: string | undefined = error.details.required_scope;
        seen.push([scope]);
      }
    }

    // Assess
    expect(seen).toEqual([
      ['/body/source', 'must not be blank', true],
      ['acknowledged', '2025-01-01T00:00:01.000Z', false],
      ['pending', undefined, true],
      [409_600, 409_601],
      ['k', event(1).event_id],
      [7],
      ['events:ack'],
    ]);
  });

  it('keeps details.errors an array, and drops typed fields of another type, whatever the answer held', async () => {
    // Prepare: what a proxy or a newer server might send
    const { fetch } = scriptedFetch(
      apiError(400, 'INVALID_CURSOR'),
      apiError(400, 'VALIDATION_ERROR', {
        details: { errors: [{ path: '/body/a', message: 'bad' }, { path: 3 }, null, 'text'] },
      }),
      new Response('Bad Request', { status: 400 }),
      apiError(409, 'CONFLICT', {
        details: { current_status: 1, acknowledged_at: null, reason: ['x'], extra: 'kept' },
      }),
      apiError(413, 'PAYLOAD_TOO_LARGE', { details: { limit_bytes: '409600' } }),
    );
    const triggers = client(fetch, { maxRetries: 0 });

    // Act
    const errors: unknown[] = [];
    for (let n = 0; n < 5; n += 1) errors.push(await rejectionOf(triggers.me()));

    // Assess
    expect(errors.map((error) => (error as TriggersApiError).details)).toEqual([
      { errors: [] },
      { errors: [{ path: '/body/a', message: 'bad' }] },
      { errors: [] },
      { acknowledged_at: null, extra: 'kept' },
      {},
    ]);
    expect(errors.map((error) => (error as object).constructor)).toEqual([
      ValidationError,
      ValidationError,
      ValidationError,
      ConflictError,
      PayloadTooLargeError,
    ]);
  });

  it('gives RateLimitError the Retry-After of the last answer, as seconds from an HTTP date too', async () => {
    // Prepare
    const date = new Date(Date.now() + 30_000).toUTCString();
    const withDate = scriptedFetch(apiError(429, 'RATE_LIMITED', { headers: { 'Retry-After': date } }));
    const without = scriptedFetch(apiError(429, 'RATE_LIMITED'));

    // Act
    const dated = await rejectionOf(client(withDate.fetch, { maxRetries: 0 }).me());
    const bare = await rejectionOf(client(without.fetch, { maxRetries: 0 }).me());

    // Assess
    expect(dated).toBeInstanceOf(RateLimitError);
    expect((dated as RateLimitError).retryAfter).toBeGreaterThan(28);
    expect((dated as RateLimitError).retryAfter).toBeLessThanOrEqual(30);
    expect(bare).toBeInstanceOf(RateLimitError);
    expect((bare as RateLimitError).retryAfter).toBeUndefined();
  });

  it('turns an HTML 502 from a proxy into a ServerError with code UNKNOWN', async () => {
    // Prepare
    const html = '<html><body><h1>502 Bad Gateway</h1></body></html>';
    const { fetch } = scriptedFetch(
      new Response(html, { status: 502, headers: { 'Content-Type': 'text/html', 'X-Request-ID': 'edge-1' } }),
    );
    const triggers = client(fetch, { maxRetries: 0 });

    // Act
    const error = await rejectionOf(triggers.events.get(event(1).event_id));

    // Assess
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({
      status: 502,
      code: 'UNKNOWN',
      message: 'The Triggers API answered 502.',
      details: {},
      requestId: 'edge-1',
    });
  });

  it('turns a JSON body that is not the envelope into code UNKNOWN, by status', async () => {
    // Prepare: what an API gateway in front answers
    const { fetch } = scriptedFetch(new Response(JSON.stringify({ message: 'Forbidden' }), { status: 403 }));
    const triggers = client(fetch, { maxRetries: 0 });

    // Act
    const error = await rejectionOf(triggers.me());

    // Assess
    expect(error).toBeInstanceOf(PermissionError);
    expect(error).toMatchObject({ status: 403, code: 'UNKNOWN', details: {}, requestId: undefined });
  });
});

// ---------------------------------------------------------------------------------------------
// Paging.
// ---------------------------------------------------------------------------------------------

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe('inbox.iterate', () => {
  it('yields a single page and stops', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(page(events(1, 3), null, false));
    const triggers = client(fetch);

    // Act
    const seen = await all(triggers.inbox.iterate({ limit: 10 }));

    // Assess
    expect(seen.map((e) => e.event_id)).toEqual(events(1, 3).map((e) => e.event_id));
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url.searchParams.get('limit')).toBe('10');
    expect(sent[0]?.url.searchParams.has('cursor')).toBe(false);
  });

  it('yields nothing for an empty inbox', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(page([], null, false));
    const triggers = client(fetch);

    // Act
    const seen = await all(triggers.inbox.iterate());

    // Assess
    expect(seen).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('stops when has_more is false even if a cursor is present', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      page(events(1, 2), 'stale-cursor', false),
      page(events(3, 4), null, false),
    );
    const triggers = client(fetch);

    // Act
    const seen = await all(triggers.inbox.iterate());

    // Assess
    expect(seen).toHaveLength(2);
    expect(sent).toHaveLength(1);
  });

  it('follows next_cursor page after page and keeps the filters on every request', async () => {
    // Prepare
    const cursors = ['c1-abc_DEF', 'c2+/=?&'];
    const { fetch, sent } = scriptedFetch(
      page(events(1, 2), cursors[0] ?? null, true, 2),
      page(events(3, 4), cursors[1] ?? null, true, 2),
      page(events(5, 5), null, false, 2),
    );
    const triggers = client(fetch);
    const filters = {
      limit: 2,
      source: 'shop',
      event_type: 'order.created',
      priority: 'high' as const,
      created_after: '2025-01-01T00:00:00.000Z',
      created_before: '2025-02-01T00:00:00.000Z',
    };

    // Act
    const seen = await all(triggers.inbox.iterate(filters));

    // Assess
    expect(seen.map((e) => e.event_id)).toEqual(events(1, 5).map((e) => e.event_id));
    expect(sent).toHaveLength(3);
    sent.forEach((request, i) => {
      const query = request.url.searchParams;
      expect(request.url.pathname).toBe('/v1/inbox');
      expect(Object.fromEntries([...query].filter(([name]) => name !== 'cursor'))).toEqual({
        ...filters,
        limit: '2',
      });
      expect(query.get('cursor')).toBe(i === 0 ? null : cursors[i - 1]);
    });
  });

  it('throws the error of a later page after yielding the earlier ones', async () => {
    // Prepare
    const { fetch } = scriptedFetch(page(events(1, 2), 'c1', true), apiError(400, 'INVALID_CURSOR'));
    const triggers = client(fetch);
    const seen: Event[] = [];

    // Act
    const error = await rejectionOf(
      (async () => {
        for await (const item of triggers.inbox.iterate()) seen.push(item);
      })(),
    );

    // Assess
    expect(seen).toHaveLength(2);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'INVALID_CURSOR' });
  });
});

describe('inbox.toArray', () => {
  it.each([0, -1, 1.5, TO_ARRAY_MAX + 1, Number.NaN, undefined])(
    'refuses max = %p with a RangeError before any request',
    async (max) => {
      // Prepare
      const { fetch, sent } = scriptedFetch(page(events(1, 1), null, false));
      const triggers = client(fetch);

      // Act
      const error = await rejectionOf(triggers.inbox.toArray({ max: max as number }));

      // Assess
      expect(error).toBeInstanceOf(RangeError);
      expect(sent).toHaveLength(0);
    },
  );

  it('accepts max = 10,000 and returns what the inbox holds', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(page(events(1, 3), 'c1', true), page([], null, false));
    const triggers = client(fetch);

    // Act
    const found = await triggers.inbox.toArray({ max: TO_ARRAY_MAX });

    // Assess
    expect(TO_ARRAY_MAX).toBe(10_000);
    expect(found).toHaveLength(3);
    expect(sent).toHaveLength(2);
  });

  it('stops at max without fetching further pages', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      page(events(1, 3), 'c1', true, 3),
      page(events(4, 6), 'c2', true, 3),
      page(events(7, 9), null, false, 3),
    );
    const triggers = client(fetch);

    // Act
    const found = await triggers.inbox.toArray({ max: 5, limit: 3, source: 'shop' });

    // Assess
    expect(found.map((e) => e.event_id)).toEqual(events(1, 5).map((e) => e.event_id));
    expect(sent).toHaveLength(2);
    expect(sent[1]?.url.searchParams.get('cursor')).toBe('c1');
    expect(sent[1]?.url.searchParams.get('source')).toBe('shop');
  });

  it('does not fetch the next page when max is reached at the end of a page', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      page(events(1, 3), 'c1', true, 3),
      page(events(4, 6), null, false, 3),
    );
    const triggers = client(fetch);

    // Act
    const found = await triggers.inbox.toArray({ max: 3, limit: 3 });

    // Assess
    expect(found).toHaveLength(3);
    expect(sent).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// The body of an answer, with the real fetch against a stub HTTP server.
// ---------------------------------------------------------------------------------------------

describe('createTriggersClient reading an answer body', () => {
  let server: Server;
  let baseUrl: string;
  let hits = 0;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits += 1;
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    hits = 0;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const me = '{"tenant_id":"local","key_id":"dev","source":"dev","scopes":[],"request_id":"r"}';

  it('reads a JSON answer with the global fetch', async () => {
    // Prepare
    handler = (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(me);
    const triggers = createTriggersClient({ baseUrl, apiKey: API_KEY, maxRetries: 0, timeoutMs: 1_000 });

    // Act
    const who = await triggers.me();

    // Assess
    expect(who.tenant_id).toBe('local');
    expect(hits).toBe(1);
  });

  // Regression test of a fixed SDK bug: retryingFetch returns as soon as the headers arrive, but its timeout
  // signal stays on the body; a body that stalls past timeoutMs rejects openapi-fetch's
  // response.text() with a bare DOMException TimeoutError: not a TriggersConnectionError, and
  // not retried although the request is a GET.
  it('turns a body that stalls past the per-attempt timeout into a retried TriggersConnectionError', async () => {
    // Prepare
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(me.slice(0, 10));
      setTimeout(() => res.end(me.slice(10)), 400).unref();
    };
    const triggers = createTriggersClient({ baseUrl, apiKey: API_KEY, maxRetries: 1, timeoutMs: 100 });

    // Act
    const error = await rejectionOf(triggers.me());

    // Assess
    expect(error).toBeInstanceOf(TriggersConnectionError);
    expect(hits).toBe(2);
  });

  // Regression test of a fixed SDK bug, same cause: a connection dropped in the middle of the body escapes as
  // fetch's bare TypeError('terminated'), not retried.
  it('turns a connection dropped mid-body into a retried TriggersConnectionError', async () => {
    // Prepare
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(me.slice(0, 10));
      setTimeout(() => res.socket?.destroy(), 20).unref();
    };
    jest.spyOn(Math, 'random').mockReturnValue(0);
    const triggers = createTriggersClient({ baseUrl, apiKey: API_KEY, maxRetries: 1, timeoutMs: 1_000 });
    jest.restoreAllMocks();

    // Act
    const error = await rejectionOf(triggers.me());

    // Assess
    expect(error).toBeInstanceOf(TriggersConnectionError);
    expect(hits).toBe(2);
  });
});
