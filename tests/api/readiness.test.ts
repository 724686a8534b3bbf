import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

/**
 * GET /v1/health/ready (issue 15): readiness apart from liveness, on both stores (jest projects
 * sqlite and api-on-dynamodb). Time is the fake clock's. The full disk, for real, is in
 * tests/reliability/sqlite-disk-full.test.ts; a DynamoDB outage in dynamodb-outage.test.ts.
 */

const PROBE_INTERVAL_MS = 5_000;
const ingest = (t: TestApp, status: number) =>
  checked(
    request(t.app)
      .post('/v1/events')
      .set('X-API-Key', DEV_KEY)
      .send({ source: 'shop', event_type: 'order.created', payload: {} }),
    status,
  );
const ready = (t: TestApp, status: number) => checked(request(t.app).get('/v1/health/ready'), status);

describe('GET /v1/health/ready', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ readinessProbeIntervalMs: PROBE_INTERVAL_MS });
  });
  afterEach(() => t.close());

  it('answers 200 ready without an API key, from a probe write made now', async () => {
    // Act
    const res = await ready(t, 200);

    // Assess
    expect(res.body).toEqual({
      status: 'ready',
      store: t.store.kind,
      checked_at: new Date(t.clock.now).toISOString(),
      timestamp: new Date(t.clock.now).toISOString(),
      request_id: res.headers['x-request-id'],
    });
  });

  it('answers from the latest write of a request while it is younger than the probe interval', async () => {
    // Prepare
    await ingest(t, 201);
    const written = new Date(t.clock.now).toISOString();
    t.clock.advance(PROBE_INTERVAL_MS - 1);

    // Act
    const fresh = await ready(t, 200);
    t.clock.advance(1);
    const probed = await ready(t, 200);

    // Assess: the first rests on the ingest, the second on a probe of its own
    expect(fresh.body.checked_at).toBe(written);
    expect(probed.body.checked_at).toBe(new Date(t.clock.now).toISOString());
  });

  it('answers 503 NOT_READY, write_failed, as soon as a write fails in the store, while /v1/health says nothing of writes', async () => {
    // Prepare
    await ready(t, 200);
    await t.breakStore();
    const failedAt = new Date(t.clock.now).toISOString();
    await ingest(t, 503);

    // Act
    const res = await ready(t, 503);

    // Assess
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body.error).toEqual({
      code: 'NOT_READY',
      message: 'The store cannot take writes now (the last write failed); retry later.',
      details: { reason: 'write_failed', store: t.store.kind, since: failedAt },
      request_id: res.headers['x-request-id'],
    });
  });

  it('probes again once the latest failure is older than the interval, and keeps the time failures began', async () => {
    // Prepare
    await t.breakStore();
    const failedAt = new Date(t.clock.now).toISOString();
    await ingest(t, 503);
    t.clock.advance(PROBE_INTERVAL_MS);

    // Act
    const res = await ready(t, 503);

    // Assess
    expect(res.body.error.details).toEqual({ reason: 'probe_failed', store: t.store.kind, since: failedAt });
  });

  it('finds out from its probe that a store it never wrote to cannot take writes', async () => {
    // Prepare
    await t.breakStore();

    // Act
    const res = await ready(t, 503);

    // Assess
    expect(res.body.error).toMatchObject({
      code: 'NOT_READY',
      details: { reason: 'probe_failed', since: new Date(t.clock.now).toISOString() },
    });
  });
});
