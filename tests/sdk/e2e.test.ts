import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AuthenticationError,
  ConflictError,
  type components,
  createTriggersClient,
  IdempotencyError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionError,
  RateLimitError,
  type TriggersClient,
  ValidationError,
} from '../../sdk/src/index';
import { rejectionOf } from '../helpers/rejection';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const DEV_KEY = 'test-api-key-12345';

type EventInput = components['schemas']['EventInput'];

/** What one request of the SDK looked like on the wire, and what came back. */
interface Exchange {
  method: string;
  path: string;
  idempotencyKey: string | null;
  retryCount: string | null;
  status: number | 'dropped';
  replayed: string | null;
  body: unknown;
}

/**
 * The global fetch, recording every exchange. `dropFirst` names a POST path whose first
 * response is read and then thrown away as a network error, as when a connection drops after
 * the server committed: the server did the work, the SDK never heard.
 */
function recordingFetch(dropFirst?: string) {
  const exchanges: Exchange[] = [];
  let dropped = false;
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const response = await globalThis.fetch(request);
    const exchange: Exchange = {
      method: request.method,
      path: new URL(request.url).pathname,
      idempotencyKey: request.headers.get('idempotency-key'),
      retryCount: request.headers.get('x-retry-count'),
      status: response.status,
      replayed: response.headers.get('idempotent-replayed'),
      body: undefined,
    };
    exchanges.push(exchange);
    if (!dropped && request.method === 'POST' && exchange.path === dropFirst) {
      dropped = true;
      exchange.body = await response.json();
      exchange.status = 'dropped';
      throw new TypeError('fetch failed');
    }
    return response;
  };
  return { fetch: fetch as typeof globalThis.fetch, exchanges };
}

function input(source: string, n: number): EventInput {
  return { source, event_type: 'sdk.e2e', payload: { n, price: n + 0.25 } };
}

/** createMany in batches of at most 100; the ids of every stored event, in input order. */
async function createAll(triggers: TriggersClient, items: EventInput[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < items.length; start += 100) {
    const result = await triggers.events.createMany(items.slice(start, start + 100));
    expect(result.failed).toEqual([]);
    ids.push(...result.successful.sort((a, b) => a.index - b.index).map((item) => item.event_id));
  }
  return ids;
}

describe('the SDK against the real server', () => {
  let dir: string;
  let file: string;
  let server: ServerProcess;
  let triggers: TriggersClient;

  beforeAll(async () => {
    ensureServerBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-sdk-e2e-'));
    file = path.join(dir, 'triggers.db');
    server = await startServer({ TRIGGERS_SQLITE_PATH: file, LOG_LEVEL: 'warn' });
    triggers = createTriggersClient({ baseUrl: server.baseUrl, apiKey: DEV_KEY, timeoutMs: 10_000 });
  }, 60_000);

  afterAll(async () => {
    if (server) await killServer(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('iterates 250 events 40 at a time while acking each: every event once, and the inbox empty after', async () => {
    // Prepare: the tenant's inbox starts empty, then holds 250 events
    expect(await triggers.inbox.toArray({ max: 1 })).toEqual([]);
    const source = 'paging';
    const ids = await createAll(
      triggers,
      Array.from({ length: 250 }, (_, n) => input(source, n)),
    );
    expect(new Set(ids).size).toBe(250);
    const recorded = recordingFetch();
    const pager = createTriggersClient({ baseUrl: server.baseUrl, apiKey: DEV_KEY, fetch: recorded.fetch });

    // Act
    const seen: components['schemas']['Event'][] = [];
    for await (const event of pager.inbox.iterate({ limit: 40 })) {
      seen.push(event);
      await pager.events.ack(event.event_id);
    }

    // Assess
    const seenIds = seen.map((event) => event.event_id);
    const duplicates = seenIds.length - new Set(seenIds).size;
    const misses = ids.filter((id) => !seenIds.includes(id)).length;
    const strangers = seenIds.filter((id) => !ids.includes(id)).length;
    const pages = recorded.exchanges.filter((exchange) => exchange.path === '/v1/inbox').length;
    console.log(
      `SDK e2e paging: ${ids.length} created, ${seenIds.length} iterated in ${pages} pages of 40 while acking, ` +
        `${duplicates} duplicates, ${misses} misses, ${strangers} unknown`,
    );
    expect({ duplicates, misses, strangers }).toEqual({ duplicates: 0, misses: 0, strangers: 0 });
    expect(seenIds).toHaveLength(250);
    expect(pages).toBe(7);
    const order = seen.map((event) => `${event.created_at}|${event.event_id}`);
    expect(order).toEqual([...order].sort());
    expect(seen.every((event) => event.source === source && event.status === 'pending')).toBe(true);
    expect(await triggers.inbox.toArray({ max: 10_000 })).toEqual([]);
    const last = await triggers.inbox.list();
    expect(last.events).toEqual([]);
    expect(last.pagination).toMatchObject({ has_more: false, next_cursor: null });
  });

  it('creates in bulk and acknowledges in bulk, item by item', async () => {
    // Prepare
    const source = `bulk-${randomUUID()}`;
    const items: EventInput[] = Array.from({ length: 100 }, (_, n) => input(source, n));
    items[7] = { ...input(source, 7), source: '   ' };
    const unknownId = randomUUID();

    // Act
    const created = await triggers.events.createMany(items);
    const ids = [...created.successful].sort((a, b) => a.index - b.index).map((item) => item.event_id);
    const firstIds = ids.slice(0, 60);
    const acked = await triggers.events.ackMany(firstIds);
    const again = await triggers.events.ackMany([...ids.slice(55, 100), unknownId]);

    // Assess
    expect(created.successful).toHaveLength(99);
    expect(created.failed).toEqual([
      { index: 7, error: expect.objectContaining({ code: 'VALIDATION_ERROR' }) },
    ]);
    expect(acked.failed).toEqual([]);
    expect(acked.successful.map((item) => item.event_id).sort()).toEqual([...firstIds].sort());
    expect(again.successful).toHaveLength(39);
    expect(again.failed.map((item) => [item.error.code, item.error.details.current_status])).toEqual([
      ...Array(5).fill(['CONFLICT', 'acknowledged']),
      ['NOT_FOUND', undefined],
    ]);
    expect(await triggers.inbox.toArray({ max: 1_000, source })).toEqual([]);
    const one = await triggers.events.get(ids[0] as string);
    expect(one).toMatchObject({ status: 'acknowledged', source, payload: { n: 0, price: 0.25 } });
  });

  it('retries a create whose answer was lost with the same key: one event, the same event_id', async () => {
    // Prepare
    const source = `dropped-${randomUUID()}`;
    const recorded = recordingFetch('/v1/events');
    const flaky = createTriggersClient({ baseUrl: server.baseUrl, apiKey: DEV_KEY, fetch: recorded.fetch });

    // Act
    const result = await flaky.events.create(input(source, 1));

    // Assess: the first attempt was stored, the retry replayed it
    const [first, second] = recorded.exchanges;
    expect(recorded.exchanges).toHaveLength(2);
    expect(first).toMatchObject({ status: 'dropped', retryCount: null, body: { event_id: result.event_id } });
    expect(second).toMatchObject({ status: 201, retryCount: '1', replayed: 'true' });
    expect(result.replayed).toBe(true);
    expect(first?.idempotencyKey).toBeTruthy();
    expect(second?.idempotencyKey).toBe(first?.idempotencyKey);
    const stored = await triggers.inbox.toArray({ max: 10, source });
    expect(stored.map((event) => event.event_id)).toEqual([result.event_id]);
    expect(await triggers.events.get(result.event_id)).toMatchObject({ status: 'pending', source });
  });

  it('retries a bulk create whose answer was lost: every item stored once', async () => {
    // Prepare
    const source = `dropped-bulk-${randomUUID()}`;
    const recorded = recordingFetch('/v1/events/bulk');
    const flaky = createTriggersClient({ baseUrl: server.baseUrl, apiKey: DEV_KEY, fetch: recorded.fetch });

    // Act
    const result = await flaky.events.createMany(Array.from({ length: 100 }, (_, n) => input(source, n)));

    // Assess
    expect(recorded.exchanges.map((exchange) => exchange.status)).toEqual(['dropped', 200]);
    expect(new Set(recorded.exchanges.map((exchange) => exchange.idempotencyKey)).size).toBe(1);
    expect(result.failed).toEqual([]);
    expect(result.successful).toHaveLength(100);
    expect(result.successful.every((item) => item.replayed)).toBe(true);
    const lost = recorded.exchanges[0]?.body as components['schemas']['BulkEventsResult'] | undefined;
    const firstIds = (lost?.successful ?? []).map((item) => item.event_id);
    expect(firstIds).toHaveLength(100);
    expect(result.successful.map((item) => item.event_id)).toEqual(firstIds);
    const stored = await triggers.inbox.toArray({ max: 1_000, source });
    expect(stored.map((event) => event.event_id).sort()).toEqual([...firstIds].sort());
  });

  it('throws ConflictError with the current status when an event is acknowledged twice', async () => {
    // Prepare
    const { event_id } = await triggers.events.create(input(`ack-${randomUUID()}`, 1));
    const first = await triggers.events.ack(event_id);

    // Act
    const error = await rejectionOf(triggers.events.ack(event_id));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({
      status: 409,
      code: 'CONFLICT',
      details: { current_status: 'acknowledged', acknowledged_at: first.acknowledged_at },
      requestId: expect.any(String),
    });
  });

  it('throws NotFoundError for an unknown event and AuthenticationError for a bad key', async () => {
    // Prepare
    const stranger = createTriggersClient({ baseUrl: server.baseUrl, apiKey: 'tk_nobody_wrong' });

    // Act
    const missing = await rejectionOf(triggers.events.get(randomUUID()));
    const refused = await rejectionOf(stranger.inbox.list());

    // Assess
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: 'NOT_FOUND', requestId: expect.any(String) });
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect(refused).toMatchObject({ status: 401, code: 'UNAUTHORIZED', requestId: expect.any(String) });
  });

  it('throws ValidationError for a broken event and for a cursor the server never issued', async () => {
    // Act
    const broken = await rejectionOf(
      triggers.events.create({ ...input('x', 1), event_type: '', colour: 'red' } as unknown as EventInput),
    );
    const badCursor = await rejectionOf(triggers.inbox.list({ cursor: 'bm90LWEtY3Vyc29y' }));

    // Assess
    expect(broken).toBeInstanceOf(ValidationError);
    expect(broken).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
    if (!(broken instanceof ValidationError)) throw broken;
    const paths = broken.details.errors.map((error) => error.path);
    expect(paths).toEqual(expect.arrayContaining(['/body/event_type', '/body/colour']));
    expect(badCursor).toBeInstanceOf(ValidationError);
    expect(badCursor).toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
  });

  it('throws IdempotencyError when a key comes back with another body', async () => {
    // Prepare
    const key = `order-${randomUUID()}`;
    const source = `idem-${randomUUID()}`;
    const first = await triggers.events.create(input(source, 1), { idempotencyKey: key });

    // Act
    const replay = await triggers.events.create(input(source, 1), { idempotencyKey: key });
    const reused = await rejectionOf(triggers.events.create(input(source, 2), { idempotencyKey: key }));

    // Assess
    expect(replay.event_id).toBe(first.event_id);
    expect(reused).toBeInstanceOf(IdempotencyError);
    expect(reused).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await triggers.inbox.toArray({ max: 10, source })).toHaveLength(1);
  });

  it('tells a create and a bulk create that replay an earlier one from those that store', async () => {
    // Prepare
    const source = `replayed-${randomUUID()}`;
    const key = `order.created:${randomUUID()}`;

    // Act
    const first = await triggers.events.create(input(source, 1), { idempotencyKey: key });
    const again = await triggers.events.create(input(source, 1), { idempotencyKey: key });
    const bulk = await triggers.events.createMany([input(source, 2), input(source, 3)], {
      idempotencyKey: key,
    });
    const bulkAgain = await triggers.events.createMany([input(source, 2), input(source, 3)], {
      idempotencyKey: key,
    });

    // Assess
    expect(first.replayed).toBe(false);
    expect(again).toMatchObject({ event_id: first.event_id, replayed: true });
    expect(bulk.successful.map((item) => item.replayed)).toEqual([false, false]);
    expect(bulkAgain.successful.map((item) => [item.event_id, item.replayed])).toEqual(
      bulk.successful.map((item) => [item.event_id, true]),
    );
    expect(await triggers.inbox.toArray({ max: 10, source })).toHaveLength(3);
  });

  it('throws PayloadTooLargeError with the limits for a payload over 400 KiB, without retrying it', async () => {
    // Prepare
    const recorded = recordingFetch();
    const sender = createTriggersClient({ baseUrl: server.baseUrl, apiKey: DEV_KEY, fetch: recorded.fetch });

    // Act
    const error = await rejectionOf(
      sender.events.create({ source: 'big', event_type: 'big', payload: { blob: 'x'.repeat(409_600) } }),
    );

    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      details: { limit_bytes: 409_600, actual_bytes: expect.any(Number) },
    });
    expect(recorded.exchanges).toHaveLength(1);
  });

  it('throws PermissionError when a read-only key acknowledges', async () => {
    // Prepare: a key made with the keys CLI on the server's own database
    const { event_id } = await triggers.events.create(input(`scopes-${randomUUID()}`, 1));
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/keys.ts',
        'create',
        '--tenant',
        'local',
        '--source',
        'reader',
        '--scopes',
        'events:read',
      ],
      { cwd: ROOT, env: { ...process.env, TRIGGERS_SQLITE_PATH: file }, timeout: 20_000 },
    );
    const reader = createTriggersClient({ baseUrl: server.baseUrl, apiKey: JSON.parse(stdout).api_key });

    // Act
    const seen = await reader.events.get(event_id);
    const error = await rejectionOf(reader.events.ack(event_id));

    // Assess
    expect(seen.event_id).toBe(event_id);
    expect(error).toBeInstanceOf(PermissionError);
    expect(error).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(await triggers.events.get(event_id)).toMatchObject({ status: 'pending' });
  }, 30_000);

  // Regression test of a fixed SDK bug: create() always sends an Idempotency-Key header (a random one when
  // none is given), and the server refuses a header that differs from metadata.idempotency_key
  // with 400, so an event that carries its own key, as the contract's own example does, cannot
  // be created through the SDK.
  it('creates an event that carries its key in metadata.idempotency_key, and replays it', async () => {
    // Prepare
    const source = `meta-key-${randomUUID()}`;
    const event: EventInput = { ...input(source, 1), metadata: { idempotency_key: `paid-${randomUUID()}` } };

    // Act
    const first = await triggers.events.create(event);
    const again = await triggers.events.create(event);

    // Assess
    expect(again.event_id).toBe(first.event_id);
    expect(await triggers.inbox.toArray({ max: 10, source })).toHaveLength(1);
  });
});

describe('the SDK against a rate-limited real server', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    ensureServerBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-sdk-e2e-rate-'));
    server = await startServer({
      TRIGGERS_SQLITE_PATH: path.join(dir, 'triggers.db'),
      LOG_LEVEL: 'warn',
      TRIGGERS_RATE_LIMIT: '1',
      TRIGGERS_RATE_BURST: '1',
    });
  }, 60_000);

  afterAll(async () => {
    if (server) await killServer(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('throws RateLimitError with Retry-After without retries, and waits it out with them', async () => {
    // Prepare
    const impatient = createTriggersClient({ baseUrl: server.baseUrl, apiKey: DEV_KEY, maxRetries: 0 });
    const patient = createTriggersClient({ baseUrl: server.baseUrl, apiKey: DEV_KEY, maxRetries: 2 });
    await impatient.me();

    // Act
    const limited = await rejectionOf(impatient.me());
    const started = Date.now();
    const who = await patient.me();
    const waited = Date.now() - started;

    // Assess
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfter: 1 });
    expect(who.tenant_id).toBe('local');
    expect(waited).toBeGreaterThanOrEqual(900);
  });
});
