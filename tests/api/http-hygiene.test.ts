import request from 'supertest';
import { DOCS_CONTENT_SECURITY_POLICY } from '../../server/src/http/security-headers';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const EVENT = { source: 'billing', event_type: 'order.created', payload: { order_id: 'ord_1' } };
const JSON_TYPE = 'application/json; charset=utf-8';
const API_CSP = "default-src 'none';frame-ancestors 'none'";

function nested(levels: number): unknown {
  let value: unknown = {};
  for (let i = 0; i < levels; i += 1) value = { child: value };
  return value;
}

describe('Security headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('sends nosniff, HSTS, frame denial and a CSP that allows nothing on JSON answers, errors included', async () => {
    // Act
    const answers = await Promise.all([
      checked(request(t.app).get('/v1/health'), 200),
      checked(request(t.app).get('/v1/me').set('X-API-Key', DEV_KEY), 200),
      checked(request(t.app).get('/v1/me'), 401),
      checked(request(t.app).get('/v1/nope'), 404),
      checked(request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send({}), 400),
    ]);

    // Assess
    expect(answers.map((res) => res.status)).toEqual([200, 200, 401, 404, 400]);
    for (const res of answers) {
      expect(res.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'x-frame-options': 'DENY',
        'content-security-policy': API_CSP,
        'referrer-policy': 'no-referrer',
      });
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('gives /docs a CSP that lets Redoc run from this server only: no other origin, no eval', async () => {
    // Act
    const html = await checked(request(t.app).get('/docs'), 200);

    // Assess
    const csp = html.headers['content-security-policy'] as string;
    expect(csp).toBe(DOCS_CONTENT_SECURITY_POLICY);
    const directives = Object.fromEntries(
      csp.split(';').map((part) => {
        const [name = '', ...values] = part.trim().split(/\s+/);
        return [name, values];
      }),
    );
    expect(directives).toMatchObject({
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'connect-src': ["'self'"],
      'frame-ancestors': ["'none'"],
    });
    expect(csp).not.toMatch(/unsafe-eval|https?:|\*/);
    // What the page loads is covered: its script, the rendered reference and the contract
    // offered for download, all by relative URL.
    expect(html.text).toContain('<script src="docs/redoc.standalone.js">');
    expect(html.text).toContain('spec-url="docs/reference.json"');
    expect(html.text).toContain('download-definition-url="openapi.yaml"');
    expect(html.headers['x-frame-options']).toBe('DENY');
  });
});

describe('No stack traces, whatever NODE_ENV is', () => {
  const original = process.env.NODE_ENV;
  afterEach(() => {
    process.env.NODE_ENV = original;
  });

  it.each(['development', 'production'])(
    'answers a thrown bug with 500 INTERNAL_ERROR in the envelope and no stack when NODE_ENV=%s',
    async (env) => {
      // Prepare: Express reads NODE_ENV when the app is made.
      process.env.NODE_ENV = env;
      const t = await createTestApp();
      try {
        // A fault no real store produces on demand: a fake failure, named as such.
        t.store.get = () =>
          Promise.reject(new Error('fake bug at handler (/srv/app/dist/events/service.js:42:7)'));

        // Act
        const res = await checked(
          request(t.app).get('/v1/events/0193a0b0-0000-7000-8000-000000000000').set('X-API-Key', DEV_KEY),
          500,
        );

        // Assess
        expect(t.app.get('env')).toBe(env);
        expect(res.status).toBe(500);
        expect(res.headers['content-type']).toBe(JSON_TYPE);
        expect(res.body.error).toMatchObject({ code: 'INTERNAL_ERROR', details: {} });
        expect(res.text).not.toMatch(/fake bug|\.js:\d+|\bat \w|stack/i);
      } finally {
        await t.close();
      }
    },
  );
});

describe('Content-Type of JSON answers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ rateLimit: 1, rateBurst: 1 });
  });
  afterAll(() => t.close());

  it('is application/json on every error status: 400, 401, 404, 405, 413, 415, 429, 500', async () => {
    // Prepare: each call runs on a key of its own, so that only the 429 call meets the limit.
    const key = () => t.createKey({ tenant: 'acme' });
    const limited = await key();
    await request(t.app).get('/v1/me').set('X-API-Key', limited);
    const buggy = await createTestApp();
    buggy.store.get = () => Promise.reject(new Error('fake bug'));

    // Act
    const answers = [
      await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', await key())
          .set('Content-Type', 'application/json')
          .send('{'),
        400,
      ),
      await checked(request(t.app).get('/v1/me'), 401),
      await checked(request(t.app).get('/nope'), 404),
      await checked(
        request(t.app)
          .put('/v1/me')
          .set('X-API-Key', await key()),
        405,
      ),
      await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', await key())
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ ...EVENT, payload: { blob: 'x'.repeat(1_100_000) } })),
        413,
      ),
      await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', await key())
          .set('Content-Type', 'text/plain')
          .send('hi'),
        415,
      ),
      await checked(request(t.app).get('/v1/me').set('X-API-Key', limited), 429),
      await checked(
        request(buggy.app)
          .get(`/v1/events/${'0193a0b0-0000-7000-8000-000000000000'}`)
          .set('X-API-Key', DEV_KEY),
        500,
      ),
    ];
    await buggy.close();

    // Assess
    expect(answers.map((res) => res.status)).toEqual([400, 401, 404, 405, 413, 415, 429, 500]);
    for (const res of answers) expect(res.headers['content-type']).toBe(JSON_TYPE);
  });
});

describe('JSON nesting depth', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it.each(['/v1/events', '/v1/events/bulk'])(
    'answers 400 VALIDATION_ERROR, not a 5xx, to a body nested 100,000 levels deep on %s',
    async (path) => {
      // Prepare: built as text; JSON.parse is iterative, the depth check too.
      const depth = 100_000;
      const body = `${'['.repeat(depth)}${']'.repeat(depth)}`;

      // Act
      const res = await checked(
        request(t.app)
          .post(path)
          .set('X-API-Key', DEV_KEY)
          .set('Content-Type', 'application/json')
          .send(body),
        400,
      );

      // Assess
      expect(res.status).toBe(400);
      expect(res.body.error.details.errors).toEqual([
        { path: '/body', message: 'must not be nested deeper than 128 levels' },
      ]);
    },
  );

  it('bounds the whole body at 128 levels, before the contract is checked', async () => {
    // Act: metadata may hold any keys; 128 levels in all pass the bound, 129 do not.
    const post = (metadataDepth: number, status: number) =>
      checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', DEV_KEY)
          .send({ ...EVENT, metadata: { extra: nested(metadataDepth) } }),
        status,
      );
    const atBound = await post(125, 201);
    const overBound = await post(126, 400);

    // Assess: body(1) + metadata(2) + extra(3) + 125 more = 128 levels.
    expect(atBound.status).toBe(201);
    expect(overBound.status).toBe(400);
    expect(overBound.body.error.message).toBe('The JSON body is nested deeper than 128 levels.');
  });
});

describe('CORS', () => {
  const ALLOWED = 'https://app.example.com';
  const preflight = (t: TestApp, origin: string) =>
    request(t.app)
      .options('/v1/events')
      .set('Origin', origin)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,x-api-key,idempotency-key');

  it('is off unless configured: no CORS header, and a preflight is a 405 like any unknown method', async () => {
    // Prepare
    const t = await createTestApp();
    try {
      // Act
      const pre = await checked(preflight(t, ALLOWED), 405);
      const actual = await checked(
        request(t.app).get('/v1/me').set('Origin', ALLOWED).set('X-API-Key', DEV_KEY),
        200,
      );

      // Assess
      expect(pre.status).toBe(405);
      expect(pre.headers['content-type']).toBe(JSON_TYPE);
      for (const res of [pre, actual]) {
        expect(Object.keys(res.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
      }
    } finally {
      await t.close();
    }
  });

  describe('with an allow-list', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({
        corsOrigins: [ALLOWED, 'http://localhost:3000'],
        rateLimit: 100,
        rateBurst: 100,
      });
    });
    afterAll(() => t.close());

    it('answers the preflight of an allowed origin with 204, its methods and headers, and no credentials', async () => {
      // Act
      const res = await preflight(t, ALLOWED);

      // Assess
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(res.headers['access-control-allow-methods']).toBe('GET,POST,DELETE');
      expect(res.headers['access-control-allow-headers']?.toLowerCase()).toBe(
        'content-type,x-api-key,authorization,idempotency-key,x-request-id',
      );
      expect(res.headers['access-control-max-age']).toBe('600');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers.vary).toMatch(/Origin/);
    });

    it('does not answer the preflight of another origin: 405 in the envelope, no CORS header', async () => {
      // Act: a look-alike origin and a sub-domain are other origins.
      const answers = await Promise.all(
        [
          'https://evil.example.net',
          'https://app.example.com.evil.net',
          'http://app.example.com',
          'null',
        ].map((origin) => checked(preflight(t, origin), 405)),
      );

      // Assess
      for (const res of answers) {
        expect(res.status).toBe(405);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.headers.vary).toMatch(/Origin/);
      }
    });

    it('names the allowed origin (never *) on answers, errors too, and exposes the headers clients need', async () => {
      // Act
      const ok = await checked(
        request(t.app).get('/v1/me').set('Origin', ALLOWED).set('X-API-Key', DEV_KEY),
        200,
      );
      const unauthorized = await checked(request(t.app).get('/v1/me').set('Origin', ALLOWED), 401);
      const other = await checked(
        request(t.app).get('/v1/me').set('Origin', 'https://evil.example.net').set('X-API-Key', DEV_KEY),
        200,
      );

      // Assess
      for (const res of [ok, unauthorized]) {
        expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
        expect(res.headers['access-control-expose-headers']).toBe(
          'X-Request-ID,Location,Retry-After,RateLimit,RateLimit-Policy,Idempotent-Replayed,Allow',
        );
      }
      expect([ok.status, unauthorized.status, other.status]).toEqual([200, 401, 200]);
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      expect(other.headers.vary).toMatch(/Origin/);
    });
  });
});
