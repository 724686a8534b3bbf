import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../server/src/app';
import { generateApiKey } from '../../server/src/auth/api-keys';
import { SqliteEventStore } from '../../server/src/store/sqlite';
import { openSqliteDatabase } from '../../server/src/store/sqlite-database';
import { SqliteKeyStore } from '../../server/src/store/sqlite-keys';
import { TEST_CURSOR_SECRET } from '../helpers/test-app';

describe('Request logs', () => {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  let dir: string;
  let app: ReturnType<typeof createApp>;
  let store: SqliteEventStore;
  let db: ReturnType<typeof openSqliteDatabase>;
  let apiKey: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-logs-'));
    db = openSqliteDatabase(path.join(dir, 'logs.db'));
    store = new SqliteEventStore(db, { clock: Date.now, sweepIntervalMs: 0 });
    const keys = new SqliteKeyStore(db);
    const generated = generateApiKey();
    apiKey = generated.apiKey;
    await keys.create({
      keyId: generated.keyId,
      secretHash: generated.secretHash,
      tenantId: 'acme',
      source: 'shop',
      scopes: ['events:write', 'events:read', 'events:ack'],
      isActive: true,
      createdAt: Date.now(),
      revokedAt: null,
    });
    const logger = pino(
      { level: 'info' },
      {
        write(line: string) {
          raw += line;
          lines.push(JSON.parse(line));
        },
      },
    );
    app = createApp({
      store,
      keys,
      logger,
      config: {
        authMode: 'local',
        cursorSecret: TEST_CURSOR_SECRET,
        retentionDays: 7,
        rateLimit: 0,
        rateBurst: 1,
      },
    });
  });
  afterAll(async () => {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes one JSON line per request with request_id, tenant_id, status and latency', async () => {
    await request(app)
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

  it('never logs the API key, from either header, nor any header', async () => {
    await request(app).get('/v1/me').set('X-API-Key', apiKey).expect(200);
    await request(app).get('/v1/me').set('Authorization', `Bearer ${apiKey}`).expect(200);
    await request(app).get('/v1/me').set('X-API-Key', 'tk_wrongwrongwrong_guess').expect(401);

    expect(raw).not.toContain(apiKey);
    expect(raw).not.toContain(apiKey.split('_')[2]);
    expect(raw).not.toContain('tk_wrongwrongwrong_guess');
    expect(raw).not.toMatch(/x-api-key|authorization/i);
  });

  it('logs a 5xx once at error level with its cause, which the client never sees', async () => {
    const original = store.get.bind(store);
    store.get = () => Promise.reject(new Error('fake store bug for the log test'));
    try {
      const res = await request(app)
        .get('/v1/events/0193a0b0-0000-7000-8000-000000000000')
        .set('X-API-Key', apiKey)
        .set('X-Request-ID', 'log-test-500');
      expect(res.status).toBe(500);
      expect(res.text).not.toContain('fake store bug');
    } finally {
      store.get = original;
    }
    const entries = lines.filter((entry) => entry.request_id === 'log-test-500');
    const withCause = entries.filter((entry) =>
      JSON.stringify(entry).includes('fake store bug for the log test'),
    );
    expect(withCause).toHaveLength(1);
    expect(withCause[0]?.level).toBe(50);
  });
});
