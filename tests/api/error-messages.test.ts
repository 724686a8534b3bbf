import request, { type Response } from 'supertest';
import { loadSpec } from '../../server/src/spec';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

/**
 * What a first request that is wrong is told: one sentence that says what to send instead,
 * never a regular expression or Ajv's own wording, with the field paths in details.errors.
 */
const spec = loadSpec().document as unknown as {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
};
const EVENT = { source: 'shop', event_type: 'order.created', payload: { order_id: 'ord_1' } };
const BLANK = 'must not be blank, and must be valid Unicode text (no lone surrogates)';

/** The media types the contract accepts for an operation's body. */
function acceptedBy(path: string): string[] {
  return Object.keys(spec.paths[path]?.post?.requestBody?.content ?? {});
}

function errorOf(res: Response): { code: string; message: string; details: Record<string, unknown> } {
  return res.body.error;
}

describe('Error messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const post = (path: string) => request(t.app).post(path).set('X-API-Key', DEV_KEY);

  it('says that the request needs a JSON body when a JSON POST has none', async () => {
    // Act
    const res = await checked(post('/v1/events').set('Content-Type', 'application/json'), 400);

    // Assess
    expect(errorOf(res)).toMatchObject({
      code: 'VALIDATION_ERROR',
      message:
        'The request body is empty: send a JSON object such as {"source":"…","event_type":"…","payload":{…}} with Content-Type: application/json.',
      details: { errors: [{ path: '/body', message: 'is empty: the request needs a JSON object' }] },
    });
  });

  it('says the same of a body of zero bytes, instead of listing every required field', async () => {
    // Act
    const res = await checked(
      post('/v1/events/bulk').set('Content-Type', 'application/json').set('Content-Length', '0'),
      400,
    );

    // Assess
    expect(errorOf(res).message).toBe(
      'The request body is empty: send a JSON object such as {"items":[…]} with Content-Type: application/json.',
    );
  });

  it('answers a POST with no body and no Content-Type with 415, naming the JSON body it needs', async () => {
    // Act
    const res = await checked(post('/v1/subscriptions'), 415);

    // Assess
    expect(errorOf(res)).toEqual({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message:
        'The request body is empty: send a JSON object such as {"target_url":"…"} with Content-Type: application/json.',
      details: { content_type: null, accepted: acceptedBy('/v1/subscriptions') },
      request_id: expect.any(String),
    });
  });

  it('says to wrap a JSON array sent to bulk ingest as {"items": [...]}', async () => {
    // Act
    const res = await checked(post('/v1/events/bulk').send([EVENT]), 400);

    // Assess
    expect(errorOf(res)).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: 'The request body is a JSON array: wrap the list in an object, as {"items":[…]}.',
      details: { errors: [{ path: '/body', message: 'must be a JSON object, not an array' }] },
    });
  });

  it('names the path without its trailing slash', async () => {
    // Act
    const res = await checked(request(t.app).get('/v1/inbox/').set('X-API-Key', DEV_KEY), 404);

    // Assess
    expect(errorOf(res)).toMatchObject({
      code: 'NOT_FOUND',
      message: 'No such path: GET /v1/inbox/. Did you mean GET /v1/inbox? Paths have no trailing slash.',
      details: { did_you_mean: '/v1/inbox' },
    });
  });

  it('names the path spelled in the right case, keeping the path parameters as sent', async () => {
    // Act
    const res = await checked(
      request(t.app).get('/v1/Events/0193a0b0-0000-7000-8000-00000000000A/').set('X-API-Key', DEV_KEY),
      404,
    );

    // Assess
    expect(errorOf(res)).toMatchObject({
      message:
        'No such path: GET /v1/Events/0193a0b0-0000-7000-8000-00000000000A/. Did you mean GET /v1/events/0193a0b0-0000-7000-8000-00000000000A? Paths have no trailing slash and are case-sensitive.',
      details: { did_you_mean: '/v1/events/0193a0b0-0000-7000-8000-00000000000A' },
    });
  });

  it('suggests no path for a path that is not close to one of the contract', async () => {
    // Act
    const res = await checked(request(t.app).get('/v1/inboxes').set('X-API-Key', DEV_KEY), 404);

    // Assess
    expect(errorOf(res)).toMatchObject({ message: 'No such path: GET /v1/inboxes.', details: {} });
  });

  it('names the content type received and the ones accepted on a 415', async () => {
    // Act
    const res = await checked(post('/v1/events').set('Content-Type', 'text/plain').send('hello'), 415);

    // Assess
    const accepted = acceptedBy('/v1/events');
    expect(accepted).toContain('application/json');
    expect(errorOf(res)).toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      details: { content_type: 'text/plain', accepted },
    });
    expect(errorOf(res).message).toMatch(/^Send the body as application\/json.* \(got text\/plain\)\.$/);
  });

  it('says that a blank event_type must not be blank, in words', async () => {
    // Act
    const res = await checked(post('/v1/events').send({ ...EVENT, event_type: '   ' }), 400);

    // Assess
    expect(errorOf(res)).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: `event_type ${BLANK}.`,
      details: { errors: [{ path: '/body/event_type', message: BLANK }] },
    });
  });

  it('says that an empty source must not be empty, once for the field', async () => {
    // Act
    const res = await checked(post('/v1/events').send({ ...EVENT, source: '' }), 400);

    // Assess
    expect(errorOf(res)).toMatchObject({
      message: 'source must not be empty.',
      details: { errors: [{ path: '/body/source', message: 'must not be empty' }] },
    });
  });

  it('gives the length limit of a string that is too long', async () => {
    // Act
    const res = await checked(post('/v1/events').send({ ...EVENT, event_type: 'x'.repeat(129) }), 400);

    // Assess
    expect(errorOf(res).message).toBe('event_type must be at most 128 characters long.');
  });

  it('lists the allowed values of an enum', async () => {
    // Act
    const res = await checked(post('/v1/events').send({ ...EVENT, metadata: { priority: 'urgent' } }), 400);

    // Assess
    expect(errorOf(res)).toMatchObject({
      message: 'metadata.priority must be one of: low, normal, high.',
      details: {
        errors: [{ path: '/body/metadata/priority', message: 'must be one of: low, normal, high' }],
      },
    });
  });

  it('names a field the contract does not have', async () => {
    // Act
    const res = await checked(post('/v1/events').send({ ...EVENT, colour: 'red' }), 400);

    // Assess
    expect(errorOf(res)).toMatchObject({
      message: 'colour is not a field of this request: check its spelling, or remove it.',
      details: { errors: [{ path: '/body/colour' }] },
    });
  });

  it('names the JSON type a field must have', async () => {
    // Act
    const res = await checked(post('/v1/events').send({ ...EVENT, payload: [1, 2] }), 400);

    // Assess
    expect(errorOf(res).message).toBe('payload must be a JSON object.');
  });

  it('names the first problem and counts the others', async () => {
    // Act
    const res = await checked(post('/v1/events').send({ source: 'shop' }), 400);

    // Assess
    expect(errorOf(res)).toMatchObject({
      message: 'event_type is required (and 1 more: see details.errors).',
      details: {
        errors: [
          { path: '/body/event_type', message: 'is required' },
          { path: '/body/payload', message: 'is required' },
        ],
      },
    });
  });

  it('shows the expected form of a date-time query parameter and names the bound of a number', async () => {
    // Act
    const res = await checked(
      request(t.app).get('/v1/inbox?limit=500&created_after=yesterday').set('X-API-Key', DEV_KEY),
      400,
    );

    // Assess
    expect(errorOf(res)).toMatchObject({
      message: 'The query parameter limit must be at most 100 (and 1 more: see details.errors).',
      details: {
        errors: [
          { path: '/query/limit', message: 'must be at most 100' },
          {
            path: '/query/created_after',
            message: 'must be a date and time in ISO 8601 with a time zone, such as 2026-01-31T09:30:00.000Z',
          },
        ],
      },
    });
  });

  it('names a query parameter the operation does not take', async () => {
    // Act
    const res = await checked(request(t.app).get('/v1/inbox?colour=red').set('X-API-Key', DEV_KEY), 400);

    // Assess
    expect(errorOf(res).message).toBe(
      'The query parameter colour is not a parameter of this operation: check its spelling, or remove it.',
    );
  });

  it('explains the form of an Idempotency-Key header', async () => {
    // Act
    const res = await checked(post('/v1/events').set('Idempotency-Key', 'two words').send(EVENT), 400);

    // Assess
    expect(errorOf(res).message).toBe('The header idempotency-key must be printable ASCII, without spaces.');
  });

  it('explains the form of a webhook target URL', async () => {
    // Act
    const res = await checked(post('/v1/subscriptions').send({ target_url: 'ftp://files.example.com' }), 400);

    // Assess
    expect(errorOf(res).message).toBe(
      'target_url must be an http:// or https:// URL in printable ASCII (percent-encode spaces and other characters).',
    );
  });

  it('words a bad bulk item as the request validator words a bad event', async () => {
    // Act
    const res = await checked(post('/v1/events/bulk').send({ items: [{ ...EVENT, event_type: ' ' }] }), 200);

    // Assess
    expect(res.body.failed).toEqual([
      {
        index: 0,
        error: {
          code: 'VALIDATION_ERROR',
          message: `items[0].event_type ${BLANK}.`,
          details: { errors: [{ path: '/items/0/event_type', message: BLANK }] },
        },
      },
    ]);
  });

  it('explains every pattern of the contract in words, and never shows one', async () => {
    // Prepare: a request breaking each pattern a client can send
    const id = '0193a0b0-0000-7000-8000-000000000000';
    const answers = [
      await post('/v1/events').send({ ...EVENT, source: ' ' }),
      await post('/v1/events').send({ ...EVENT, metadata: { idempotency_key: 'a b' } }),
      await post(`/v1/events/${id}/ack`).send({ lease_id: 'not a lease' }),
      await request(t.app).get('/v1/subscriptions/sub_nope').set('X-API-Key', DEV_KEY),
      await post('/v1/subscriptions').send({ target_url: 'http://example.com/a b', event_types: [' '] }),
      await post('/v1/subscriptions').send({ target_url: 'mailto:ops@example.com', sources: ['\t'] }),
    ];

    // Assess
    for (const res of answers) {
      expect(res.status).toBe(400);
      const text = JSON.stringify(res.body.error);
      expect(text).not.toMatch(/must match pattern|\^|\$"|\\\\[dsx]|\[A-Za-z/);
    }
  });

  it('gives every pattern of the contract a sentence (x-pattern-message)', () => {
    // Prepare
    const missing: string[] = [];
    const visit = (node: unknown, at: string): void => {
      if (!node || typeof node !== 'object') return;
      const schema = node as Record<string, unknown>;
      if (typeof schema.pattern === 'string' && typeof schema['x-pattern-message'] !== 'string')
        missing.push(at);
      for (const [key, value] of Object.entries(schema)) visit(value, `${at}/${key}`);
    };

    // Act
    visit(loadSpec().document, '#');

    // Assess
    expect(missing).toEqual([]);
  });
});
