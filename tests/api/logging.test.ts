import pino from 'pino';
import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';

describe('Request logs', () => {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  let t: TestApp;
  let apiKey: string;

  beforeAll(async () => {
    const logger = pino(
      { level: 'info' },
      {
        write(line: string) {
          raw += line;
          lines.push(JSON.parse(line));
        },
      },
    );
    t = await createTestApp({}, logger);
    apiKey = await t.createKey({ tenant: 'acme' });
  });
  afterAll(() => t.close());

  it('writes one JSON line per request with request_id, tenant_id, status and latency', async () => {
    await request(t.app)
      .post('/v1/events')
      .set('X-API-Key', apiKey)
      .set('X-Request-ID', 'log-test-1')
      .send({ source: 's', event_type: 't', payload: { n: 1 } })
      .expect(201);

    const line = lines.find((entry) => entry.request_id === 'log-test-1');
    expect(line).toMatchObject({
      request_id: 'log-test-1',
      tenant_id: 'acme',
      res: { status: 201 },
      req: { method: 'POST', url: '/v1/events' },
    });
    expect(typeof line?.latency_ms).toBe('number');
    expect(lines.filter((entry) => entry.request_id === 'log-test-1')).toHaveLength(1);
  });

  it('writes the error code on the warn line of a 4xx answer', async () => {
    // Act
    await request(t.app)
      .post('/v1/events')
      .set('X-API-Key', apiKey)
      .set('X-Request-ID', 'log-test-400')
      .send({ source: 's', event_type: 't' })
      .expect(400);

    // Assess
    const entries = lines.filter((entry) => entry.request_id === 'log-test-400');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      level: 40,
      error_code: 'VALIDATION_ERROR',
      tenant_id: 'acme',
      res: { status: 400 },
    });
  });

  it('writes no error code on the line of a success', async () => {
    // Act
    await request(t.app)
      .get('/v1/me')
      .set('X-API-Key', apiKey)
      .set('X-Request-ID', 'log-test-200')
      .expect(200);

    // Assess
    const line = lines.find((entry) => entry.request_id === 'log-test-200');
    expect(line).toMatchObject({ level: 30, res: { status: 200 } });
    expect(line).not.toHaveProperty('error_code');
  });

  it('never logs the API key, from either header, nor any header', async () => {
    await request(t.app).get('/v1/me').set('X-API-Key', apiKey).expect(200);
    await request(t.app).get('/v1/me').set('Authorization', `Bearer ${apiKey}`).expect(200);
    await request(t.app).get('/v1/me').set('X-API-Key', 'tk_wrongwrongwrong_guess').expect(401);

    // tk_<16 alphanumerics>_<secret>: the secret is base64url, so it may hold `_` itself.
    const secret = apiKey.slice('tk_'.length + 16 + 1);
    expect(secret).toHaveLength(43);
    expect(raw).not.toContain(apiKey);
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain('tk_wrongwrongwrong_guess');
    expect(raw).not.toMatch(/x-api-key|authorization/i);
  });

  it('logs a 5xx once at error level with its cause, which the client never sees', async () => {
    const original = t.store.get.bind(t.store);
    t.store.get = () => Promise.reject(new Error('fake store bug for the log test'));
    try {
      const res = await request(t.app)
        .get('/v1/events/0193a0b0-0000-7000-8000-000000000000')
        .set('X-API-Key', apiKey)
        .set('X-Request-ID', 'log-test-500');
      expect(res.status).toBe(500);
      expect(res.text).not.toContain('fake store bug');
    } finally {
      t.store.get = original;
    }
    const entries = lines.filter((entry) => entry.request_id === 'log-test-500');
    const withCause = entries.filter((entry) =>
      JSON.stringify(entry).includes('fake store bug for the log test'),
    );
    expect(withCause).toHaveLength(1);
    expect(withCause[0]?.level).toBe(50);
  });
});
