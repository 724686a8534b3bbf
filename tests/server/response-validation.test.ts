import Database from 'better-sqlite3';
import pino from 'pino';
import request from 'supertest';
import { assertMatchesContract } from '../helpers/contract';
import { createTestApp, type TestApp } from '../helpers/test-app';

/**
 * The server validates its own answers against the contract at run time (the validator's
 * compiled response schemas, shared between routes and statuses whose schema is the same —
 * see patches/README.md). To get an answer that breaks the contract for real, a stored row is
 * corrupted behind the API's back, through a second connection to the same SQLite file.
 */
describe('Answers checked against the contract at run time', () => {
  const logLines: Array<Record<string, unknown>> = [];
  let t: TestApp;
  let apiKey: string;
  let corruptedId: string;

  const create = async (n: number) => {
    const res = await request(t.app)
      .post('/v1/events')
      .set('X-API-Key', apiKey)
      .send({ source: 'shop', event_type: 'order.created', payload: { n } })
      .expect(201);
    return res.body.event_id as string;
  };

  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
    t = await createTestApp({}, logger);
    apiKey = await t.createKey({ tenant: 'acme', source: 'shop' });
    corruptedId = await create(1);
    const db = new Database(t.file);
    try {
      const changed = db
        .prepare("UPDATE events SET source = '' WHERE tenant_id = 'acme' AND event_id = ?")
        .run(corruptedId).changes;
      expect(changed).toBe(1);
    } finally {
      db.close();
    }
  });
  afterAll(() => t.close());

  it('answers 500 INTERNAL_ERROR instead of an event that no longer fits the contract, and logs why', async () => {
    const res = await request(t.app)
      .get(`/v1/events/${corruptedId}`)
      .set('X-API-Key', apiKey)
      .set('X-Request-ID', 'corrupted-get')
      .expect(500);
    assertMatchesContract(res);
    expect(res.body.error.code).toBe('INTERNAL_ERROR');
    expect(res.text).not.toContain('order.created');
    const logged = logLines.filter((line) => line.request_id === 'corrupted-get' && Number(line.level) >= 50);
    expect(JSON.stringify(logged)).toMatch(/source/);
  });

  it('checks the inbox page with its own schema: the same row fails it too', async () => {
    const res = await request(t.app).get('/v1/inbox').set('X-API-Key', apiKey).expect(500);
    assertMatchesContract(res);
    expect(res.body.error.code).toBe('INTERNAL_ERROR');
  });

  it('still answers every other event, and errors on every route, as the contract says', async () => {
    const fine = await create(2);
    const got = await request(t.app).get(`/v1/events/${fine}`).set('X-API-Key', apiKey).expect(200);
    assertMatchesContract(got);
    expect(got.body.source).toBe('shop');
    // The same Error schema, answered by three routes and statuses.
    const answers = await Promise.all([
      request(t.app).get('/v1/events/00000000-0000-4000-8000-000000000000').set('X-API-Key', apiKey),
      request(t.app).post(`/v1/events/${fine}/ack`).set('X-API-Key', 'tk_wrong'),
      request(t.app).get('/v1/inbox?limit=0').set('X-API-Key', apiKey),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([404, 401, 400]);
    for (const answer of answers) assertMatchesContract(answer);
  });
});
