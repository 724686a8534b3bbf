import {
  ConflictError,
  createTriggersClient,
  type Event,
  type LeasedEvent,
  type TriggersClientOptions,
  TriggersConnectionError,
} from '../../sdk/src/index';
import { rejectionOf } from '../helpers/rejection';
import { apiError, event, json, type Sent, scriptedFetch } from './scripted-fetch';

// The lease helpers of createTriggersClient, with an injected fetch that answers from a script
// (network failures included). The real server's answers are checked in consume-e2e.test.ts.

const BASE_URL = 'http://api.test';
const EVENT_ID = '0194a000-0000-7000-8000-000000000001';
const LEASE_ID = '0193a1c4-2b7d-4f3e-9a61-5c2d7e8f9a0b';

function client(fetch: typeof globalThis.fetch, options: Partial<TriggersClientOptions> = {}) {
  return createTriggersClient({
    baseUrl: BASE_URL,
    apiKey: 'tk_unit_secret',
    fetch,
    maxRetries: 2,
    timeoutMs: 1_000,
    ...options,
  });
}

function leased(n: number): LeasedEvent {
  const until = '2025-01-01T00:01:00.000Z';
  return {
    ...event(n, { delivery_count: 1, leased_until: until }),
    lease: { lease_id: `lease-${n}`, leased_until: until },
  };
}

function page(items: Event[], nextCursor: string | null, hasMore: boolean): Response {
  return json(200, {
    events: items,
    pagination: { limit: 50, next_cursor: nextCursor, has_more: hasMore },
    request_id: 'req-page',
  });
}

const ackResult = () =>
  json(200, {
    event_id: EVENT_ID,
    status: 'acknowledged',
    acknowledged_at: '2025-01-01T00:00:01.000Z',
    request_id: 'req-ack',
  });
const nackResult = () =>
  json(200, {
    event_id: EVENT_ID,
    status: 'pending',
    delivery_count: 1,
    visible_at: '2025-01-01T00:01:00.000Z',
    request_id: 'req-nack',
  });
const extendResult = () =>
  json(200, { event_id: EVENT_ID, leased_until: '2025-01-01T00:02:00.000Z', request_id: 'req-extend' });

/** Retries wait random × window: pinned to 0 so that a retry goes out at once. */
beforeEach(() => {
  jest.spyOn(Math, 'random').mockReturnValue(0);
});
afterEach(() => {
  jest.restoreAllMocks();
});

describe('events.ack with a lease id', () => {
  it('retries an ack whose first answer was lost on the network, and succeeds with the same body', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('network-error', ackResult());
    const triggers = client(fetch);

    // Act
    const result = await triggers.events.ack(EVENT_ID, { leaseId: LEASE_ID });

    // Assess
    expect(result).toMatchObject({ event_id: EVENT_ID, status: 'acknowledged' });
    expect(sent).toHaveLength(2);
    expect(sent.map((s) => s.url.pathname)).toEqual(Array(2).fill(`/v1/events/${EVENT_ID}/ack`));
    expect(sent.map((s) => JSON.parse(s.body))).toEqual(Array(2).fill({ lease_id: LEASE_ID }));
    expect(sent.map((s) => s.retryCount)).toEqual([null, '1']);
    expect(sent.map((s) => s.idempotencyKey)).toEqual([null, null]);
  });

  it('retries an ack answered 503 or 429, as it retries a GET', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': '0' } }),
      apiError(429, 'RATE_LIMITED', { headers: { 'Retry-After': '0' } }),
      ackResult(),
    );

    // Act
    const result = await client(fetch).events.ack(EVENT_ID, { leaseId: LEASE_ID });

    // Assess
    expect(result.status).toBe('acknowledged');
    expect(sent).toHaveLength(3);
  });

  it('throws a lease_mismatch ConflictError at once, without a retry', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      apiError(409, 'CONFLICT', { details: { reason: 'lease_mismatch', current_status: 'pending' } }),
      ackResult(),
    );

    // Act
    const error = await rejectionOf(client(fetch).events.ack(EVENT_ID, { leaseId: LEASE_ID }));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ details: { reason: 'lease_mismatch' } });
    expect(sent).toHaveLength(1);
  });

  it('gives up with a TriggersConnectionError after maxRetries lost answers', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('network-error', 'network-error', 'network-error', ackResult());

    // Act
    const error = await rejectionOf(
      client(fetch, { maxRetries: 2 }).events.ack(EVENT_ID, { leaseId: LEASE_ID }),
    );

    // Assess
    expect(error).toBeInstanceOf(TriggersConnectionError);
    expect(sent).toHaveLength(3);
  });
});

describe('events.nack and events.extend', () => {
  it('nack sends the lease id and the delay, and is retried after a lost answer', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('network-error', nackResult());

    // Act
    const result = await client(fetch).events.nack(EVENT_ID, { leaseId: LEASE_ID, delay: 60 });

    // Assess
    expect(result).toMatchObject({ status: 'pending', delivery_count: 1, visible_at: expect.any(String) });
    expect(sent.map((s) => s.url.pathname)).toEqual(Array(2).fill(`/v1/events/${EVENT_ID}/nack`));
    expect(sent.map((s) => JSON.parse(s.body))).toEqual(Array(2).fill({ lease_id: LEASE_ID, delay: 60 }));
  });

  it('nack leaves the delay to the server when none is given', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(nackResult());

    // Act
    await client(fetch).events.nack(EVENT_ID, { leaseId: LEASE_ID });

    // Assess
    expect(JSON.parse(sent[0]?.body ?? '')).toEqual({ lease_id: LEASE_ID });
  });

  it('extend sends the lease id and the visibility timeout, and is retried on a 503', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      apiError(503, 'UNAVAILABLE', { headers: { 'Retry-After': '0' } }),
      extendResult(),
    );

    // Act
    const result = await client(fetch).events.extend(EVENT_ID, { leaseId: LEASE_ID, visibilityTimeout: 120 });

    // Assess
    expect(result.leased_until).toBe('2025-01-01T00:02:00.000Z');
    expect(sent.map((s) => s.url.pathname)).toEqual(Array(2).fill(`/v1/events/${EVENT_ID}/extend`));
    expect(sent.map((s) => JSON.parse(s.body))).toEqual(
      Array(2).fill({ lease_id: LEASE_ID, visibility_timeout: 120 }),
    );
  });

  it('extend throws a lease_too_long ConflictError with the latest allowed end', async () => {
    // Prepare
    const details = { reason: 'lease_too_long', max_leased_until: '2025-01-01T12:00:00.000Z' };
    const { fetch } = scriptedFetch(apiError(409, 'CONFLICT', { details }));

    // Act
    const error = await rejectionOf(
      client(fetch).events.extend(EVENT_ID, { leaseId: LEASE_ID, visibilityTimeout: 43_200 }),
    );

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ details });
  });
});

describe('events.redeliver and events.redeliverMany', () => {
  it('call their paths with their bodies', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      json(200, { event_id: EVENT_ID, status: 'pending', request_id: 'r' }),
      json(200, { successful: [{ event_id: EVENT_ID, status: 'pending' }], failed: [], request_id: 'r' }),
    );
    const triggers = client(fetch);

    // Act
    const one = await triggers.events.redeliver(EVENT_ID);
    const many = await triggers.events.redeliverMany([EVENT_ID, 'unknown']);

    // Assess
    expect(one.status).toBe('pending');
    expect(many.successful).toEqual([{ event_id: EVENT_ID, status: 'pending' }]);
    expect(sent.map((s) => [s.method, s.url.pathname])).toEqual([
      ['POST', `/v1/events/${EVENT_ID}/redeliver`],
      ['POST', '/v1/events/bulk/redeliver'],
    ]);
    expect(sent[0]?.body).toBe('');
    expect(JSON.parse(sent[1]?.body ?? '')).toEqual({ event_ids: [EVENT_ID, 'unknown'] });
  });
});

describe('inbox.lease', () => {
  it('sends the given fields as they are and returns the leased events', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(json(200, { events: [leased(1), leased(2)], request_id: 'r' }));

    // Act
    const result = await client(fetch).inbox.lease({
      limit: 2,
      visibility_timeout: 60,
      event_type: 'order.created',
    });

    // Assess
    expect(result.events.map((e) => e.lease.lease_id)).toEqual(['lease-1', 'lease-2']);
    expect(sent[0]?.url.pathname).toBe('/v1/inbox/lease');
    expect(JSON.parse(sent[0]?.body ?? '')).toEqual({
      limit: 2,
      visibility_timeout: 60,
      event_type: 'order.created',
    });
  });

  it("leaves every field to the server's defaults when called with none", async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(json(200, { events: [], request_id: 'r' }));

    // Act
    await client(fetch).inbox.lease();

    // Assess
    expect(JSON.parse(sent[0]?.body ?? '')).toEqual({});
  });

  it('gives a waiting lease its wait on top of the per-attempt time limit', async () => {
    // Prepare: an answer that takes longer than timeoutMs, but less than timeoutMs + wait
    // (aborted, as the real fetch is, when the attempt's signal aborts).
    const slowAnswer = ({ signal }: Sent) =>
      new Promise<Response>((resolve, reject) => {
        const timer = setTimeout(() => resolve(json(200, { events: [], request_id: 'r' })), 200);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason);
        });
      });
    const waiting = scriptedFetch(slowAnswer);
    const notWaiting = scriptedFetch(slowAnswer);

    // Act
    const answered = await client(waiting.fetch, { timeoutMs: 50, maxRetries: 0 }).inbox.lease({ wait: 1 });
    const timedOut = await rejectionOf(
      client(notWaiting.fetch, { timeoutMs: 50, maxRetries: 0 }).inbox.lease(),
    );

    // Assess
    expect(answered.events).toEqual([]);
    expect(timedOut).toBeInstanceOf(TriggersConnectionError);
    expect((timedOut as Error).message).toMatch(/timed out/);
  });

  it('ends a waiting lease when its signal aborts', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch('hang');
    const controller = new AbortController();

    // Act
    const pending = rejectionOf(client(fetch).inbox.lease({ wait: 20 }, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 10);
    const error = await pending;

    // Assess
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(sent).toHaveLength(1);
  });
});

describe('events.list', () => {
  it('yields every event page after page, with the filters and order on every request', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      page([event(5), event(4)], 'cursor-1', true),
      page([event(3), event(2)], 'cursor-2', true),
      page([event(1)], null, false),
    );

    // Act
    const seen: Event[] = [];
    for await (const item of client(fetch).events.list({ limit: 2, status: 'acknowledged', order: 'desc' })) {
      seen.push(item);
    }

    // Assess
    expect(seen.map((e) => e.payload.n)).toEqual([5, 4, 3, 2, 1]);
    expect(sent.map((s) => s.url.pathname)).toEqual(Array(3).fill('/v1/events'));
    expect(sent.map((s) => s.url.searchParams.get('cursor'))).toEqual([null, 'cursor-1', 'cursor-2']);
    for (const request of sent) {
      expect(request.url.searchParams.get('status')).toBe('acknowledged');
      expect(request.url.searchParams.get('order')).toBe('desc');
      expect(request.url.searchParams.get('limit')).toBe('2');
    }
  });

  it("leaves the order to the server's default (newest first) when none is given", async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(page([], null, false));

    // Act
    const seen: Event[] = [];
    for await (const item of client(fetch).events.list()) seen.push(item);

    // Assess
    expect(seen).toEqual([]);
    expect(sent).toHaveLength(1);
    expect([...(sent[0]?.url.searchParams.keys() ?? [])]).toEqual([]);
  });

  it('stops fetching pages when the loop breaks', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(
      page([event(3), event(2)], 'cursor-1', true),
      page([event(1)], null, false),
    );

    // Act
    for await (const item of client(fetch).events.list({ limit: 2 })) {
      if (item.payload.n === 3) break;
    }

    // Assess
    expect(sent).toHaveLength(1);
  });

  it('listPage reads one page, and the next one with its cursor', async () => {
    // Prepare
    const { fetch, sent } = scriptedFetch(page([event(2)], 'cursor-1', true), page([event(1)], null, false));
    const triggers = client(fetch);

    // Act
    const first = await triggers.events.listPage({ limit: 1, source: 'shop' });
    const second = await triggers.events.listPage({
      limit: 1,
      source: 'shop',
      cursor: first.pagination.next_cursor ?? '',
    });

    // Assess
    expect(first.events.map((e) => e.payload.n)).toEqual([2]);
    expect(second.pagination.has_more).toBe(false);
    expect(sent[1]?.url.searchParams.get('cursor')).toBe('cursor-1');
    expect(sent[1]?.url.searchParams.get('source')).toBe('shop');
  });
});
