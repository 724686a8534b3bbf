import { createHash } from 'node:crypto';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { AppConfig } from '../../server/src/app';
import { TokenBucketLimiter } from '../../server/src/http/token-bucket';
import { type Answer, assertAnswerMatchesContract, checked } from '../helpers/contract';
import { FakeClock } from '../helpers/fake-clock';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const EVENT = { source: 'billing', event_type: 'order.created', payload: { order_id: 'ord_1' } };
const MISSING_ID = '0193a0b0-0000-7000-8000-000000000000';

/** A well-formed key that no store holds: authenticating it reads the key store. */
const unknownKey = (n: number) => `tk_${'A'.repeat(15)}${n % 10}_${'s'.repeat(43)}`;

/** The partition key the spec promises: base64 of the first 12 bytes of SHA-256(key id). */
const expectedPk = (keyId: string) =>
  createHash('sha256').update(keyId).digest().subarray(0, 12).toString('base64');

const keyIdOf = (apiKey: string) => apiKey.split('_')[1] as string;

describe('TokenBucketLimiter', () => {
  it('peeks without taking, and charges below zero so that a burst of failures waits longer', () => {
    // Prepare: 2 tokens, one back per second.
    const clock = new FakeClock();
    const limiter = new TokenBucketLimiter(1, 2, clock.read);

    // Act
    const peeked = [limiter.peek('a'), limiter.peek('a')];
    const charged = [1, 2, 3, 4].map(() => limiter.charge('a'));
    clock.advance(2_000);
    const afterTwoSeconds = limiter.peek('a');
    clock.advance(1_000);
    const afterThree = limiter.take('a');

    // Assess: 4 charges against 2 tokens leave a debt of 2, paid back one per second.
    expect(peeked.map((state) => state.remaining)).toEqual([2, 2]);
    expect(charged.map((state) => state.retryAfterSeconds)).toEqual([0, 1, 2, 3]);
    expect(afterTwoSeconds).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    expect(afterThree).toMatchObject({ allowed: true, remaining: 0, resetSeconds: 2 });
    expect(limiter.peek('b')).toMatchObject({ allowed: true, remaining: 2, resetSeconds: 0 });
  });

  it('holds at most its bound of buckets: full ones are forgotten first, then the least recently used', () => {
    // Prepare: room for 100 buckets; 100 keys each one token short (2 tokens, one per second).
    const clock = new FakeClock();
    const limiter = new TokenBucketLimiter(1, 2, clock.read, 100);
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    for (const key of keys) limiter.charge(key);
    const inDebt = (key: string) => limiter.peek(key).remaining < 2;

    // Act: one more key while none is full; then k10 used again, and 20 more keys.
    limiter.take('new-0');
    const afterOneMore = { size: limiter.size, forgotten: keys.filter((key) => !inDebt(key)) };
    limiter.charge('k10');
    for (let i = 1; i <= 20; i += 1) limiter.take(`new-${i}`);

    // Assess: the 10 least recently used went to make room (down to 90 %, so the next scan
    // waits for 10 more new keys), and k10, used since, outlived k11-k30.
    expect(afterOneMore).toEqual({ size: 91, forgotten: keys.slice(0, 10) });
    expect(limiter.size).toBeLessThanOrEqual(100);
    expect(inDebt('k10')).toBe(true);
    expect(keys.slice(11, 31).some(inDebt)).toBe(false);
    expect(keys.slice(31).every(inDebt)).toBe(true);

    // Once the buckets are full again, they are the ones forgotten, all of them.
    clock.advance(2_000);
    for (let i = 21; limiter.size < 100; i += 1) limiter.charge(`refill-${i}`);
    limiter.take('one-more');
    expect(limiter.size).toBeLessThan(100);
    expect(limiter.size).toBeGreaterThanOrEqual(1);
  });

  it('stays within its bound under a flood of new keys, as from addresses sprayed across an IPv6 /48', () => {
    const clock = new FakeClock();
    const limiter = new TokenBucketLimiter(10 / 60, 10, clock.read, 1_000);
    let largest = 0;
    for (let i = 0; i < 65_536; i += 1) {
      limiter.charge(`2001:db8:0:${i.toString(16)}::/64`);
      largest = Math.max(largest, limiter.size);
    }
    expect(largest).toBe(1_000);
  });
});

describe('Rate limiting per API key', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ rateLimit: 2, rateBurst: 3 });
  });
  afterEach(() => t.close());

  const me = (status?: number, apiKey = DEV_KEY) =>
    checked(request(t.app).get('/v1/me').set('X-API-Key', apiKey), status);

  it('answers 429 RATE_LIMITED with Retry-After once the key burst is spent, and recovers with time', async () => {
    // Prepare
    const statuses: number[] = [];
    let limited: request.Response | undefined;
    for (let i = 0; i < 4; i += 1) {
      const res = await me();
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }

    // Act
    t.clock.advance(1_000);
    const after = await me(200);

    // Assess
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(limited?.body.error.code).toBe('RATE_LIMITED');
    expect(limited?.headers['retry-after']).toBe('1');
    expect(limited?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(after.status).toBe(200);
  });

  it('counts each key on its own', async () => {
    const other = await t.createKey({ tenant: 'acme' });
    for (let i = 0; i < 3; i += 1) await me(200);
    const res = await me(200, other);
    expect(res.status).toBe(200);
  });

  it('counts RateLimit down on every answer it lets through, and keeps the policy on the 429', async () => {
    // Act
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await me());

    // Assess: a bucket of 3 refilling at 2/s is told as q=3 over w=2 s (3/2 rounded up).
    const pk = expectedPk('dev');
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 429]);
    for (const res of answers) {
      expect(res.headers['ratelimit-policy']).toBe(`"per-key";q=3;w=2;pk=:${pk}:`);
    }
    expect(answers.map((res) => res.headers.ratelimit)).toEqual([
      `"per-key";r=2;t=1;pk=:${pk}:`,
      `"per-key";r=1;t=1;pk=:${pk}:`,
      `"per-key";r=0;t=2;pk=:${pk}:`,
      `"per-key";r=0;t=2;pk=:${pk}:`,
    ]);
  });

  it('sends the RateLimit headers on the answers of every rate-limited operation, 2xx and 4xx', async () => {
    // Prepare
    const roomy = await createTestApp({ rateLimit: 100, rateBurst: 100 });
    const answers: request.Response[] = [];
    try {
      const created = await checked(
        request(roomy.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(EVENT),
        201,
      );
      const id = created.body.event_id as string;
      const calls: Array<[request.Test, number]> = [
        [
          request(roomy.app)
            .post('/v1/events/bulk')
            .send({ items: [EVENT] }),
          200,
        ],
        [request(roomy.app).get(`/v1/events/${id}`), 200],
        [request(roomy.app).get(`/v1/events/${MISSING_ID}`), 404],
        [request(roomy.app).get('/v1/inbox'), 200],
        [request(roomy.app).post(`/v1/events/${id}/ack`), 200],
        [
          request(roomy.app)
            .post('/v1/events/bulk/ack')
            .send({ event_ids: [id] }),
          200,
        ],
        [request(roomy.app).delete(`/v1/events/${id}`), 204],
        [request(roomy.app).get('/v1/me'), 200],
        [request(roomy.app).get('/v1/inbox?limit=0'), 400],
      ];

      // Act
      answers.push(created);
      for (const [call, status] of calls) answers.push(await checked(call.set('X-API-Key', DEV_KEY), status));
    } finally {
      await roomy.close();
    }

    // Assess
    expect(answers.map((res) => res.status)).toEqual([201, 200, 200, 404, 200, 200, 200, 204, 200, 400]);
    const remaining = answers.map((res) => /;r=(\d+);/.exec(String(res.headers.ratelimit))?.[1]);
    expect(remaining).toEqual(['99', '98', '97', '96', '95', '94', '93', '92', '91', '90']);
    for (const res of answers) expect(res.headers['ratelimit-policy']).toMatch(/^"per-key";q=100;w=1;pk=:/);
  });

  it('partitions by a hash of the key id, never by the key or the key id in clear', async () => {
    // Prepare
    const acme = await t.createKey({ tenant: 'acme' });
    const globex = await t.createKey({ tenant: 'globex' });

    // Act
    const answers = [await me(200, acme), await me(200, globex)];

    // Assess
    const [acmeHeaders, globexHeaders] = answers.map(
      (res) => `${res.headers['ratelimit-policy']} ${res.headers.ratelimit}`,
    );
    expect(acmeHeaders).toContain(`pk=:${expectedPk(keyIdOf(acme))}:`);
    expect(globexHeaders).toContain(`pk=:${expectedPk(keyIdOf(globex))}:`);
    for (const [headers, key] of [
      [acmeHeaders, acme],
      [globexHeaders, globex],
    ] as const) {
      expect(headers).not.toContain(key);
      expect(headers).not.toContain(keyIdOf(key));
    }
  });

  it('sends no RateLimit headers when rate limiting is off, nor on health', async () => {
    const off = await createTestApp({ rateLimit: 0 });
    try {
      const answers = [
        await checked(request(off.app).get('/v1/me').set('X-API-Key', DEV_KEY), 200),
        await checked(request(t.app).get('/v1/health'), 200),
      ];
      for (const res of answers) {
        expect(res.status).toBe(200);
        expect(res.headers.ratelimit).toBeUndefined();
        expect(res.headers['ratelimit-policy']).toBeUndefined();
      }
    } finally {
      await off.close();
    }
  });

  it('applies before idempotency: a 429 is not stored, and its retry after the refill creates the event', async () => {
    // Prepare: the burst is spent.
    for (let i = 0; i < 3; i += 1) await me(200);
    const ingest = (status: number) =>
      checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', DEV_KEY)
          .set('Idempotency-Key', 'retry-1')
          .send(EVENT),
        status,
      );

    // Act
    const refused = await ingest(429);
    const storedAfterRefusal = await t.countEvents();
    t.clock.advance(1_000);
    const retried = await ingest(201);
    t.clock.advance(1_000);
    const replayed = await ingest(201);

    // Assess
    expect(refused.status).toBe(429);
    expect(storedAfterRefusal).toBe(0);
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(replayed.status).toBe(201);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.body.event_id).toBe(retried.body.event_id);
    expect(await t.countEvents()).toBe(1);
  });
});

/**
 * Failed authentications are counted per client address, so these tests use real sockets
 * from distinct loopback addresses (Linux answers all of 127.0.0.0/8 on `lo`).
 */
describe('Failed authentications per client address', () => {
  const LIMIT = 3;
  const WINDOW_SECONDS = 60;
  let t: TestApp;
  let server: Server;
  let port: number;

  async function start(overrides: Partial<AppConfig> = {}): Promise<void> {
    t = await createTestApp({
      authFailureLimit: LIMIT,
      authFailureWindowSeconds: WINDOW_SECONDS,
      ...overrides,
    });
    server = t.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  }

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  /** GET /v1/me over a socket bound to `from`, checked against the contract. */
  function meFrom(from: string, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/v1/me', localAddress: from, headers, agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            const answer: Answer = {
              method: 'GET',
              path: '/v1/me',
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              body: text ? JSON.parse(text) : undefined,
            };
            try {
              assertAnswerMatchesContract(answer);
              resolve(answer);
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const wrongKey = (from: string, n = 0, extra: Record<string, string> = {}) =>
    meFrom(from, { 'X-API-Key': unknownKey(n), ...extra });

  it('answers 429 with Retry-After once an address has failed 3 times, even for a valid key not verified yet', async () => {
    // Prepare
    await start();
    const valid = await t.createKey({ tenant: 'acme' });
    const failures = [];
    for (let i = 0; i < LIMIT; i += 1) failures.push(await wrongKey('127.0.0.2', i));

    // Act
    const nextGuess = await wrongKey('127.0.0.2', 9);
    const validKey = await meFrom('127.0.0.2', { 'X-API-Key': valid });

    // Assess
    expect(failures.map((res) => res.status)).toEqual([401, 401, 401]);
    for (const res of [nextGuess, validKey]) {
      expect(res.status).toBe(429);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect((res.body as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
      expect(res.headers['retry-after']).toBe(String(WINDOW_SECONDS / LIMIT));
      expect(res.headers['ratelimit-policy']).toBe(`"failed-auth";q=${LIMIT};w=${WINDOW_SECONDS}`);
      expect(res.headers.ratelimit).toBe(`"failed-auth";r=0;t=${WINDOW_SECONDS}`);
    }
  });

  it('lets a key verified within the cache lifetime through from a blocked address, without the store', async () => {
    // Prepare: the key is used once (from anywhere), then the address is blocked and the store taken away.
    await start();
    const valid = await t.createKey({ tenant: 'acme' });
    const first = await meFrom('127.0.0.3', { 'X-API-Key': valid });
    for (let i = 0; i < LIMIT; i += 1) await wrongKey('127.0.0.2', i);
    await t.breakStore();

    // Act
    const known = await meFrom('127.0.0.2', { 'X-API-Key': valid });
    const guess = await wrongKey('127.0.0.2', 9);

    // Assess
    expect(first.status).toBe(200);
    expect(known.status).toBe(200);
    expect((known.body as { tenant_id: string }).tenant_id).toBe('acme');
    expect(guess.status).toBe(429);
  });

  it('refuses a blocked address before its key is looked up', async () => {
    // Prepare: block 127.0.0.2, then take the key store away.
    await start();
    for (let i = 0; i < LIMIT; i += 1) await wrongKey('127.0.0.2', i);
    await t.breakStore();

    // Act
    const blocked = await wrongKey('127.0.0.2', 8);
    const control = await wrongKey('127.0.0.3', 8);

    // Assess: the same lookup from another address fails on the missing store.
    expect(blocked.status).toBe(429);
    expect(control.status).toBeGreaterThanOrEqual(500);
  });

  it('lets other addresses authenticate while one is blocked', async () => {
    // Prepare
    await start();
    const valid = await t.createKey({ tenant: 'acme' });
    const neverUsed = await t.createKey({ tenant: 'acme' });
    for (let i = 0; i < LIMIT + 1; i += 1) await wrongKey('127.0.0.2', i);

    // Act
    const other = await meFrom('127.0.0.3', { 'X-API-Key': valid });
    const blocked = await meFrom('127.0.0.2', { 'X-API-Key': neverUsed });

    // Assess
    expect(other.status).toBe(200);
    expect(blocked.status).toBe(429);
  });

  it('gives an address one attempt back every window/limit seconds', async () => {
    // Prepare
    await start();
    for (let i = 0; i < LIMIT; i += 1) await wrongKey('127.0.0.2', i);

    // Act
    t.clock.advance((WINDOW_SECONDS / LIMIT) * 1000 - 1);
    const early = await wrongKey('127.0.0.2');
    t.clock.advance(1);
    const onTime = await wrongKey('127.0.0.2');
    const after = await wrongKey('127.0.0.2');

    // Assess
    expect([early.status, onTime.status, after.status]).toEqual([429, 401, 429]);
  });

  it('charges every failed attempt sent at once, so a burst past the limit waits longer', async () => {
    // Prepare
    await start();

    // Act
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => wrongKey('127.0.0.2', i)));
    const next = await wrongKey('127.0.0.2');

    // Assess: each 401 cost a token, even those that passed the check together.
    const failed = burst.filter((res) => res.status === 401).length;
    expect(burst.every((res) => res.status === 401 || res.status === 429)).toBe(true);
    expect(failed).toBeGreaterThanOrEqual(LIMIT);
    const debt = failed - LIMIT;
    expect(next.status).toBe(429);
    expect(next.headers['retry-after']).toBe(String(Math.ceil((1 + debt) / (LIMIT / WINDOW_SECONDS))));
  });

  it('counts neither requests without a key nor successful ones', async () => {
    // Prepare
    await start();
    const valid = await t.createKey({ tenant: 'acme' });

    // Act
    const answers = [];
    for (let i = 0; i < LIMIT + 2; i += 1) answers.push(await meFrom('127.0.0.2'));
    for (let i = 0; i < LIMIT + 2; i += 1) answers.push(await meFrom('127.0.0.2', { 'X-API-Key': valid }));
    const guess = await wrongKey('127.0.0.2');

    // Assess
    expect(answers.map((res) => res.status)).toEqual([
      ...Array(LIMIT + 2).fill(401),
      ...Array(LIMIT + 2).fill(200),
    ]);
    expect(guess.status).toBe(401);
  });

  it('ignores X-Forwarded-For when trust proxy is not configured', async () => {
    // Prepare
    await start();

    // Act: every guess claims another address.
    const answers = [];
    for (let i = 0; i < LIMIT + 2; i += 1) {
      answers.push(await wrongKey('127.0.0.2', i, { 'X-Forwarded-For': `203.0.113.${i}` }));
    }

    // Assess
    expect(answers.map((res) => res.status)).toEqual([401, 401, 401, 429, 429]);
  });

  it('counts the X-Forwarded-For address given by a trusted proxy', async () => {
    // Prepare: the proxy is on loopback; it forwards for two clients.
    await start({ trustProxy: 'loopback' });
    for (let i = 0; i < LIMIT; i += 1) await wrongKey('127.0.0.2', i, { 'X-Forwarded-For': '203.0.113.7' });

    // Act
    const blocked = await wrongKey('127.0.0.2', 5, { 'X-Forwarded-For': '203.0.113.7' });
    const otherClient = await wrongKey('127.0.0.2', 5, { 'X-Forwarded-For': '203.0.113.8' });

    // Assess
    expect(blocked.status).toBe(429);
    expect(otherClient.status).toBe(401);
  });

  it('does not limit failed attempts when the limit is 0', async () => {
    // Prepare
    await start({ authFailureLimit: 0 });

    // Act
    const answers = [];
    for (let i = 0; i < LIMIT + 3; i += 1) answers.push(await wrongKey('127.0.0.2', i));

    // Assess
    expect(answers.every((res) => res.status === 401)).toBe(true);
  });
});
