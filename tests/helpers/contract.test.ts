import express from 'express';
import request from 'supertest';
import { checked } from './contract';
import { createTestApp, DEV_KEY, type TestApp } from './test-app';

const EVENT = { source: 'billing', event_type: 'order.created', payload: {} };

describe('checked', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('returns the answer when its status is the expected one', async () => {
    // Act
    const res = await checked(request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(EVENT), 201);

    // Assess
    expect(res.body.status).toBe('pending');
  });

  it('fails a documented answer of another status, naming the request, both statuses and the body', async () => {
    // Prepare: 503 is documented for POST /v1/events, so the contract check alone lets it pass.
    await t.breakStore();
    const post = () => request(t.app).post('/v1/events').set('X-API-Key', DEV_KEY).send(EVENT);
    await expect(checked(post())).resolves.toMatchObject({ status: 503 });

    // Act
    const setup = checked(post(), 201);

    // Assess
    await expect(setup).rejects.toThrow(
      /^POST \/v1\/events: expected 201, got 503 \(body \{"error":\{"code":"UNAVAILABLE"/,
    );
  });

  it('says so when the unexpected answer has no body', async () => {
    // Act
    const deleted = checked(
      request(t.app).delete('/v1/events/0193a0b0-0000-7000-8000-000000000000').set('X-API-Key', DEV_KEY),
      404,
    );

    // Assess
    await expect(deleted).rejects.toThrow(
      'DELETE /v1/events/0193a0b0-0000-7000-8000-000000000000: expected 404, got 204 (no body)',
    );
  });

  it('still checks the answer against the contract when the status is the expected one', async () => {
    // Prepare: a 200 from /v1/me whose body is not the documented Me schema.
    const liar = express().get('/v1/me', (_req, res) => {
      res.setHeader('X-Request-ID', 'req-1');
      res.json({ request_id: 'req-1' });
    });

    // Act
    const res = checked(request(liar).get('/v1/me'), 200);

    // Assess
    await expect(res).rejects.toThrow(/^GET \/v1\/me -> 200: body does not match/);
  });
});
