import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import request from 'supertest';
import { REDOC_FOOTER_LOGO_URL } from '../../server/src/docs/redoc-script';
import { loadSpec } from '../../server/src/spec';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, TEST_SPEC, TEST_STORE, type TestApp } from '../helpers/test-app';

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: { error: { code: string; message: string; details: unknown; request_id: string } };
}

/**
 * Sends `target` as the request line's target, byte for byte, over a real socket: supertest
 * would first resolve it against the server's address, dropping what these tests are about.
 */
async function sendTarget(app: Express, method: string, target: string): Promise<RawAnswer> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method, path: target, headers: { 'X-API-Key': DEV_KEY }, agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('Health', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('answers 200 healthy without a key, naming the store and version', async () => {
    const res = await checked(request(t.app).get('/v1/health'), 200);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'healthy', store: TEST_STORE, version: '1.0.0' });
  });

  it('answers 503 unhealthy with Retry-After when the store cannot be reached', async () => {
    await t.breakStore();
    const res = await checked(request(t.app).get('/v1/health'), 503);
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('unhealthy');
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('answers 503 UNAVAILABLE in the envelope when the store is down during a request', async () => {
    await t.breakStore();
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({ source: 's', event_type: 't', payload: {} }),
      503,
    );
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('UNAVAILABLE');
    expect(res.headers['retry-after']).toBeDefined();
    expect(JSON.stringify(res.body)).not.toMatch(/sqlite|database|better/i);
  });
});

describe('Routing and the envelope', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('answers 404 NOT_FOUND for an unknown path, with and without /v1', async () => {
    const outside = await checked(request(t.app).get('/nope'), 404);
    const inside = await checked(request(t.app).get('/v1/nope').set('X-API-Key', DEV_KEY), 404);
    expect([outside.status, inside.status]).toEqual([404, 404]);
    expect(inside.body.error.code).toBe('NOT_FOUND');
  });

  it('answers 405 METHOD_NOT_ALLOWED with Allow for a known path and a wrong method', async () => {
    const res = await checked(
      request(t.app)
        .put('/v1/events/0193a0b0-0000-7000-8000-000000000000')
        .set('X-API-Key', DEV_KEY)
        .send({}),
      405,
    );
    expect(res.status).toBe(405);
    expect(res.body.error.code).toBe('METHOD_NOT_ALLOWED');
    expect(res.headers.allow?.split(/,\s*/).sort()).toEqual(['DELETE', 'GET']);
  });

  it('answers 405 for GET on the bulk path', async () => {
    const res = await checked(request(t.app).get('/v1/events/bulk').set('X-API-Key', DEV_KEY), 405);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });

  it('keeps a safe client X-Request-ID and replaces an unsafe one', async () => {
    const kept = await checked(
      request(t.app).get('/v1/health').set('X-Request-ID', 'client-123:abc.DEF_x'),
      200,
    );
    const replaced = await checked(
      request(t.app).get('/v1/health').set('X-Request-ID', 'bad id <script>'),
      200,
    );
    const tooLong = await checked(request(t.app).get('/v1/health').set('X-Request-ID', 'a'.repeat(129)), 200);
    expect(kept.headers['x-request-id']).toBe('client-123:abc.DEF_x');
    expect(kept.body.request_id).toBe('client-123:abc.DEF_x');
    expect(replaced.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
    expect(tooLong.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it('answers 404 for paths that differ from the contract in case or a trailing slash', async () => {
    const answers = await Promise.all(
      ['/v1/inbox/', '/V1/INBOX', '/v1/Events'].map((path) =>
        checked(request(t.app).get(path).set('X-API-Key', DEV_KEY), 404),
      ),
    );
    expect(answers.map((res) => res.status)).toEqual([404, 404, 404]);
  });

  it('answers 404 or 405 for a wrong path or method before it reads a malformed body or the key', async () => {
    const unknown = await checked(
      request(t.app).post('/v1/nope').set('Content-Type', 'application/json').send('{'),
      404,
    );
    const wrongMethod = await checked(
      request(t.app).post('/v1/health').set('Content-Type', 'application/json').send('{'),
      405,
    );
    expect([unknown.status, wrongMethod.status]).toEqual([404, 405]);
  });

  // The route guard reads req.path, which Express parses out of the target (scheme and host, or
  // a fragment, dropped); express-openapi-validator matches req.originalUrl, the target as sent.
  // So these targets pass the guard and are refused by the validator, whose 404 and 405 the
  // error handler must still answer in the envelope (not as a 400 VALIDATION_ERROR).
  it('answers 404 NOT_FOUND in the envelope for an absolute-form target the validator cannot place', async () => {
    // Act
    const res = await sendTarget(t.app, 'GET', 'http://127.0.0.1/v1/me');

    // Assess
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body.error).toEqual({
      code: 'NOT_FOUND',
      message: 'No such path: GET /v1/me.',
      details: {},
      request_id: res.headers['x-request-id'],
    });
  });

  it('answers 405 METHOD_NOT_ALLOWED with Allow when a fragment makes the validator see another path', async () => {
    // Act: the guard sees GET /v1/events/{id}; the validator sees .../{id}#/ack, which takes POST only.
    const res = await sendTarget(t.app, 'GET', '/v1/events/0193a0b0-0000-7000-8000-000000000000#/ack');

    // Assess
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.body.error).toEqual({
      code: 'METHOD_NOT_ALLOWED',
      message: 'GET is not allowed on this path.',
      details: { allow: ['POST'] },
      request_id: res.headers['x-request-id'],
    });
  });

  it('ignores conditional headers: never a 304 without a body', async () => {
    const res = await checked(
      request(t.app).get('/v1/me').set('X-API-Key', DEV_KEY).set('If-None-Match', '*'),
      200,
    );
    expect(res.status).toBe(200);
  });

  it('answers 400 for limit=Infinity', async () => {
    const res = await checked(request(t.app).get('/v1/inbox?limit=Infinity').set('X-API-Key', DEV_KEY), 400);
    expect(res.status).toBe(400);
  });

  it('leaves the contract it validates against as it was: the validator annotates a copy', async () => {
    // Act: requests that make the validator prepare and compile its schemas.
    await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({ source: 's', event_type: 't', payload: {} }),
      201,
    );
    await checked(request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY), 200);
    await checked(request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send({ source: 's' }), 400);

    // Assess
    expect(TEST_SPEC.document).toEqual(loadSpec().document);
  });

  it('sends no X-Powered-By header', async () => {
    const res = await request(t.app).get('/v1/health');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});

describe('Docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('serves the contract at /openapi.yaml without a key', async () => {
    const res = await checked(request(t.app).get('/openapi.yaml'), 200);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/yaml/);
    expect(res.text).toMatch(/^openapi: 3\.1\.0/);
  });

  it('serves an HTML reference whose renderer is served locally, with no CDN', async () => {
    const html = await checked(request(t.app).get('/docs'), 200);
    const script = await request(t.app).get('/docs/redoc.standalone.js');
    expect(html.status).toBe(200);
    expect(html.text).toContain(
      '<redoc spec-url="docs/reference.json" download-definition-url="openapi.yaml"',
    );
    expect(html.text).not.toMatch(/https?:\/\//);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.text.length).toBeGreaterThan(100_000);
  });

  it('renders the contract with a curl sample per operation, and nothing else changed', async () => {
    // Prepare
    const contract = loadSpec().document;

    // Act
    const res = await request(t.app).get('/docs/reference.json');

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const reference = res.body as { paths: Record<string, Record<string, { 'x-codeSamples'?: unknown }>> };
    const samples: Record<string, unknown> = {};
    for (const [path, item] of Object.entries(reference.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (typeof operation !== 'object' || operation === null || !('operationId' in operation)) continue;
        samples[`${method.toUpperCase()} ${path}`] = operation['x-codeSamples'];
        delete operation['x-codeSamples'];
      }
    }
    expect(res.body).toEqual(contract);
    expect(Object.keys(samples).length).toBeGreaterThan(20);
    for (const [operation, list] of Object.entries(samples)) {
      expect({ operation, list }).toEqual({
        operation,
        list: [{ lang: 'Shell', label: 'curl', source: expect.stringMatching(/^curl /) }],
      });
    }
  });

  it('gives each curl sample the method, the path, the key when needed and the example body', async () => {
    // Act
    const res = await request(t.app).get('/docs/reference.json');

    // Assess
    const sample = (path: string, method: string) =>
      (res.body.paths[path][method]['x-codeSamples'] as Array<{ source: string }>)[0]?.source;
    expect(sample('/v1/health', 'get')).toBe(`curl 'http://127.0.0.1:8080/v1/health'`);
    expect(sample('/v1/events/{event_id}/ack', 'post')).toBe(
      [
        `curl -X POST "http://127.0.0.1:8080/v1/events/$EVENT_ID/ack"`,
        `  -H 'X-API-Key: ${DEV_KEY}'`,
        `  -H 'Content-Type: application/json'`,
        `  -d '{"lease_id":"0193a1c4-2b7d-4f3e-9a61-5c2d7e8f9a0b"}'`,
      ].join(' \\\n'),
    );
    const ingest = sample('/v1/events', 'post') as string;
    const body = /-d '(.*)'$/.exec(ingest)?.[1] as string;
    const createEvent = loadSpec().document.paths['/v1/events']?.post as {
      requestBody: { content: Record<string, { example: unknown }> };
    };
    expect(JSON.parse(body)).toEqual(createEvent.requestBody.content['application/json']?.example);
  });

  it("serves Redoc without the footer logo from Redocly's CDN, which the page's CSP refuses", async () => {
    // Prepare: the file from npm has it.
    const original = readFileSync(require.resolve('redoc/bundles/redoc.standalone.js'), 'utf8');

    // Act
    const script = await request(t.app).get('/docs/redoc.standalone.js');

    // Assess
    expect(original).toContain(REDOC_FOOTER_LOGO_URL);
    expect(script.text).not.toContain(REDOC_FOOTER_LOGO_URL);
    expect(script.text.length).toBeGreaterThan(original.length - 100);
  });

  it('answers 404 for /docs/ and /DOCS: paths match exactly, as the contract writes them', async () => {
    const slash = await checked(request(t.app).get('/docs/'), 404);
    const upper = await checked(request(t.app).get('/DOCS'), 404);
    expect([slash.status, upper.status]).toEqual([404, 404]);
  });
});

describe('The root, /', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('redirects to the reference with a relative Location, so that an API Gateway stage prefix stays', async () => {
    // Act
    const res = await checked(request(t.app).get('/'), 302);

    // Assess
    expect(res.headers.location).toBe('docs');
    expect(new URL(res.headers.location as string, 'https://api.example.com/prod/').href).toBe(
      'https://api.example.com/prod/docs',
    );
    expect(res.text).toBe('');
  });

  it('redirects HEAD / the same way', async () => {
    // Act
    const res = await request(t.app).head('/');

    // Assess
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('docs');
  });

  it('answers 405 with Allow: GET for the other methods, as on every known path', async () => {
    // Act
    const answers = [];
    for (const method of ['post', 'put', 'delete', 'patch'] as const) {
      answers.push(await checked(request(t.app)[method]('/').set('X-API-Key', DEV_KEY), 405));
    }

    // Assess
    for (const res of answers) {
      expect(res.headers.allow).toBe('GET');
      expect(res.body.error.code).toBe('METHOD_NOT_ALLOWED');
    }
  });
});

describe('Unexpected errors', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('answers 500 INTERNAL_ERROR with a generic message and no internals when a bug throws', async () => {
    // A fault no real store produces on demand: a fake failure, named as such.
    const fakeBug = new Error('SELECT * FROM events -- secret internals at /srv/app.js:12');
    t.store.get = () => Promise.reject(fakeBug);

    const res = await checked(
      request(t.app).get('/v1/events/0193a0b0-0000-7000-8000-000000000000').set('X-API-Key', DEV_KEY),
      500,
    );

    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({
      code: 'INTERNAL_ERROR',
      message: 'An unexpected error occurred. Quote the request id when reporting it.',
      details: {},
    });
    expect(res.text).not.toMatch(/SELECT|secret|app\.js|\bat\b/);
  });
});
