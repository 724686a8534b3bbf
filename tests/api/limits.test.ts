import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const LIMIT = 409_600;

/** A payload whose compact JSON is exactly `bytes` long, made of random (incompressible) base64. */
function payloadOfSize(bytes: number): { data: string } {
  const overhead = JSON.stringify({ data: '' }).length;
  const data = randomBytes(bytes)
    .toString('base64')
    .slice(0, bytes - overhead);
  const payload = { data };
  expect(Buffer.byteLength(JSON.stringify(payload))).toBe(bytes);
  return payload;
}

describe('Payload size limit', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('round-trips a payload of exactly 409,600 bytes byte-identical', async () => {
    const payload = payloadOfSize(LIMIT);

    const created = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({ source: 's', event_type: 't', payload }),
      201,
    );
    const got = await checked(
      request(t.app).get(`/v1/events/${created.body.event_id}`).set('X-API-Key', DEV_KEY),
      200,
    );
    const inbox = await checked(request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY), 200);

    expect(created.status).toBe(201);
    expect(JSON.stringify(got.body.payload)).toBe(JSON.stringify(payload));
    expect(JSON.stringify(inbox.body.events[0].payload)).toBe(JSON.stringify(payload));
  });

  it('answers 413 with limit_bytes and actual_bytes one byte over, and writes nothing', async () => {
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({ source: 's', event_type: 't', payload: payloadOfSize(LIMIT + 1) }),
      413,
    );
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      details: { limit_bytes: LIMIT, actual_bytes: LIMIT + 1 },
    });
    expect(await t.countEvents()).toBe(0);
  });

  it.each([
    [
      'a single event',
      '/v1/events',
      (metadata: object) => ({ source: 's', event_type: 't', payload: {}, metadata }),
      { kept: 201, refused: 413 },
    ],
    [
      'a bulk item',
      '/v1/events/bulk',
      (metadata: object) => ({ items: [{ source: 's', event_type: 't', payload: {}, metadata }] }),
      // A bulk request answers 200 and fails the item alone.
      { kept: 200, refused: 200 },
    ],
  ])(
    'keeps metadata of exactly 16,384 bytes and refuses one byte more with 413, for %s',
    async (_name, path, body, statuses) => {
      // Prepare: {"note":"x…"} of exactly `bytes` bytes
      const metadataOf = (bytes: number) => ({ note: 'x'.repeat(bytes - '{"note":""}'.length) });

      // Act
      const kept = await checked(
        request(t.app)
          .post(path)
          .set('X-API-Key', DEV_KEY)
          .send(body(metadataOf(16_384))),
        statuses.kept,
      );
      const refused = await checked(
        request(t.app)
          .post(path)
          .set('X-API-Key', DEV_KEY)
          .send(body(metadataOf(16_385))),
        statuses.refused,
      );

      // Assess
      const keptId = kept.body.event_id ?? kept.body.successful?.[0]?.event_id;
      const got = await checked(request(t.app).get(`/v1/events/${keptId}`).set('X-API-Key', DEV_KEY), 200);
      expect(got.body.metadata.note).toHaveLength(16_384 - '{"note":""}'.length);
      const error = refused.body.error ?? refused.body.failed?.[0]?.error;
      expect(error).toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
        details: { limit_bytes: 16_384, actual_bytes: 16_385 },
      });
      expect(await t.countEvents()).toBe(1);
    },
  );

  it('counts UTF-8 bytes, not characters', async () => {
    // 'é' is 2 bytes in UTF-8: 204,795 of them (fewer than 409,600 characters in all) make
    // 409,590 bytes, plus 11 for {"data":""}: one byte over.
    const data = 'é'.repeat(204_795);
    expect(JSON.stringify({ data }).length).toBeLessThan(LIMIT);
    const res = await checked(
      request(t.app)
        .post('/v1/events')
        .set('X-API-Key', DEV_KEY)
        .send({ source: 's', event_type: 't', payload: { data } }),
      413,
    );
    expect(res.status).toBe(413);
  });

  it('keeps numbers as numbers, floats and extremes included', async () => {
    const payload = {
      float: 0.1,
      tiny: 5e-324,
      big: 1.7976931348623157e308,
      negative: -0,
      int: 9007199254740991,
    };
    const created = await request(t.app)
      .post('/v1/events')
      .set('X-API-Key', DEV_KEY)
      .send({ source: 's', event_type: 't', payload });
    const got = await checked(
      request(t.app).get(`/v1/events/${created.body.event_id}`).set('X-API-Key', DEV_KEY),
      200,
    );
    expect(got.body.payload).toEqual({ ...payload, negative: 0 });
  });
});
