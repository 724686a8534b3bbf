import { createHash } from 'node:crypto';
import { CloudEvent, type CloudEventV1, HTTP, type Message } from 'cloudevents';
import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

/**
 * CloudEvents in (DESIGN.md §13): the `cloudevents` SDK builds each request (HTTP.structured,
 * HTTP.binary), supertest sends it over a socket to the real app, and every answer is checked
 * against the contract. Requests the SDK refuses to build (a missing id, say) are its output
 * with one thing taken away.
 */

const SOURCE = 'https://shop.example/orders';
const BATCH_TYPE = 'application/cloudevents-batch+json';

/** The documented key: `ce:` + base64url(SHA-256 of the JSON array [source, id])). */
const keyOf = (source: string, id: string): string =>
  `ce:${createHash('sha256')
    .update(JSON.stringify([source, id]))
    .digest('base64url')}`;

const orderCreated = (extra: Partial<CloudEventV1<unknown>> = {}): CloudEvent<unknown> =>
  new CloudEvent<unknown>({
    id: 'evt-1001',
    source: SOURCE,
    type: 'order.created',
    subject: 'ord_1001',
    data: { order_id: 'ord_1001', amount: 49.95 },
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    ...extra,
  });

/** A structured CloudEvent's JSON with its attributes changed: `undefined` removes one. */
function structuredWith(changes: Record<string, unknown>, event = orderCreated()): Message {
  const body = { ...JSON.parse(HTTP.structured(event).body as string), ...changes };
  for (const [name, value] of Object.entries(changes)) if (value === undefined) delete body[name];
  return { headers: HTTP.structured(event).headers, body: JSON.stringify(body) };
}

describe('CloudEvents in: POST /v1/events and /v1/events/bulk', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const post = (path: string, message: Message, apiKey = DEV_KEY) =>
    request(t.app)
      .post(path)
      .set('X-API-Key', apiKey)
      .set(message.headers as Record<string, string>)
      .send(message.body as string);
  const send = (message: Message, status: number, apiKey = DEV_KEY) =>
    checked(post('/v1/events', message, apiKey), status);
  const batch = (events: unknown[], status: number) =>
    checked(
      post('/v1/events/bulk', { headers: { 'content-type': BATCH_TYPE }, body: JSON.stringify(events) }),
      status,
    );
  const read = async (eventId: string, apiKey = DEV_KEY) =>
    (await checked(request(t.app).get(`/v1/events/${eventId}`).set('X-API-Key', apiKey), 200)).body;
  /** The first error's message and the paths of all of them. */
  const problem = (res: request.Response) => ({
    code: res.body.error.code,
    message: res.body.error.message,
    paths: res.body.error.details.errors.map((e: { path: string }) => e.path),
  });

  describe('structured mode (application/cloudevents+json)', () => {
    it('stores the event: source, type as event_type, data as payload, the other attributes in metadata', async () => {
      // Prepare
      const event = orderCreated();

      // Act
      const res = await send(HTTP.structured(event), 201);

      // Assess
      expect(res.headers.location).toBe(`/v1/events/${res.body.event_id}`);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
      expect(await read(res.body.event_id)).toMatchObject({
        source: SOURCE,
        event_type: 'order.created',
        payload: { order_id: 'ord_1001', amount: 49.95 },
        status: 'pending',
        metadata: {
          priority: 'normal',
          idempotency_key: keyOf(SOURCE, 'evt-1001'),
          cloudevents: {
            id: 'evt-1001',
            specversion: '1.0',
            subject: 'ord_1001',
            time: event.time,
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          },
        },
      });
    });

    it('keeps datacontenttype, dataschema and extensions of every JSON type as sent', async () => {
      // Prepare
      const event = orderCreated({
        datacontenttype: 'application/json',
        dataschema: 'https://shop.example/schemas/order.json',
        partition: 7,
        sampled: true,
      });

      // Act
      const res = await send(HTTP.structured(event), 201);

      // Assess
      expect((await read(res.body.event_id)).metadata.cloudevents).toEqual({
        id: 'evt-1001',
        specversion: '1.0',
        subject: 'ord_1001',
        time: event.time,
        datacontenttype: 'application/json',
        dataschema: 'https://shop.example/schemas/order.json',
        partition: 7,
        sampled: true,
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      });
    });
  });

  describe('binary mode (ce-* headers, the body is data)', () => {
    it('stores the same event as structured mode, with the Content-Type as datacontenttype', async () => {
      // Prepare
      const event = orderCreated();
      const message = HTTP.binary(event);

      // Act
      const res = await send(message, 201);

      // Assess
      expect(await read(res.body.event_id)).toMatchObject({
        source: SOURCE,
        event_type: 'order.created',
        payload: { order_id: 'ord_1001', amount: 49.95 },
        metadata: {
          priority: 'normal',
          idempotency_key: keyOf(SOURCE, 'evt-1001'),
          cloudevents: {
            id: 'evt-1001',
            specversion: '1.0',
            subject: 'ord_1001',
            time: event.time,
            datacontenttype: message.headers['content-type'],
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          },
        },
      });
    });

    it('percent-decodes header values, as the HTTP binding says', async () => {
      // Prepare
      const message = HTTP.binary(orderCreated({ id: 'x', subject: undefined }));
      message.headers['ce-subject'] = 'caf%C3%A9 %25';

      // Act
      const res = await send(message, 201);

      // Assess
      expect((await read(res.body.event_id)).metadata.cloudevents.subject).toBe('café %');
    });

    it('answers 400 for a header value that is not percent-encoded beyond printable ASCII', async () => {
      // Prepare: the SDK sends attribute values as they are; Node reads header bytes as Latin-1
      const message = HTTP.binary(orderCreated({ subject: 'café' }));

      // Act
      const res = await send(message, 400);

      // Assess
      expect(problem(res)).toEqual({
        code: 'VALIDATION_ERROR',
        message:
          'The header ce-subject holds characters outside printable ASCII: percent-encode them as UTF-8 (%XX), as the CloudEvents HTTP binding says.',
        paths: ['/headers/ce-subject'],
      });
    });

    it('answers 400 for a body that is not JSON, naming data', async () => {
      // Prepare
      const message = HTTP.binary(orderCreated({ data: 'plain text', datacontenttype: 'text/plain' }));

      // Act
      const res = await send(message, 400);

      // Assess
      expect(problem(res)).toEqual({
        code: 'VALIDATION_ERROR',
        message:
          'data must be a JSON object; this API stores JSON objects as payload: in binary mode, send it as the body with Content-Type: application/json.',
        paths: ['/body', '/headers/content-type'],
      });
      expect(await t.countEvents()).toBe(0);
    });
  });

  describe('idempotency from source + id', () => {
    it('answers a re-sent structured CloudEvent with the original 201 and Idempotent-Replayed: true', async () => {
      // Prepare
      const event = orderCreated();
      const first = await send(HTTP.structured(event), 201);

      // Act
      const again = await send(HTTP.structured(event), 201);

      // Assess
      expect([again.body.event_id, again.headers['idempotent-replayed']]).toEqual([
        first.body.event_id,
        'true',
      ]);
      expect(again.body.created_at).toBe(first.body.created_at);
      expect(await t.countEvents()).toBe(1);
    });

    it('replays a binary CloudEvent sent again as it was', async () => {
      // Prepare
      const message = HTTP.binary(orderCreated());
      const first = await send(message, 201);

      // Act
      const again = await send(message, 201);

      // Assess
      expect([again.body.event_id, again.headers['idempotent-replayed']]).toEqual([
        first.body.event_id,
        'true',
      ]);
      expect(await t.countEvents()).toBe(1);
    });

    it('answers 422 IDEMPOTENCY_KEY_REUSED for the same source and id with other data, and writes nothing', async () => {
      // Prepare
      const first = await send(HTTP.structured(orderCreated()), 201);

      // Act
      const res = await send(HTTP.structured(orderCreated({ data: { order_id: 'ord_9999' } })), 422);

      // Assess
      expect(res.body.error).toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
        details: { idempotency_key: keyOf(SOURCE, 'evt-1001'), event_id: first.body.event_id },
      });
      expect(await t.countEvents()).toBe(1);
    });

    it('keeps the key per tenant: another tenant sending the same source and id gets its own event', async () => {
      // Prepare
      const otherKey = await t.createKey({ tenant: 'other' });
      const event = orderCreated();
      const mine = await send(HTTP.structured(event), 201);

      // Act
      const theirs = await send(HTTP.structured(event), 201, otherKey);

      // Assess
      expect(theirs.headers['idempotent-replayed']).toBeUndefined();
      expect(theirs.body.event_id).not.toBe(mine.body.event_id);
      expect(await read(theirs.body.event_id, otherKey)).toMatchObject({ source: SOURCE });
      expect([await t.countEvents('local'), await t.countEvents('other')]).toEqual([1, 1]);
    });

    it('never takes a native event with the CloudEvent id as its key for the CloudEvent', async () => {
      // Prepare: a native event of the same source whose key is the CloudEvent's id
      const native = await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', DEV_KEY)
          .set('Idempotency-Key', 'evt-1001')
          .send({
            source: SOURCE,
            event_type: 'order.created',
            payload: { order_id: 'ord_1001', amount: 49.95 },
          }),
        201,
      );

      // Act
      const cloudEvent = await send(HTTP.structured(orderCreated()), 201);

      // Assess
      expect(cloudEvent.headers['idempotent-replayed']).toBeUndefined();
      expect(cloudEvent.body.event_id).not.toBe(native.body.event_id);
      expect(await t.countEvents()).toBe(2);
    });

    it('answers 400 for an Idempotency-Key header other than the derived key, and takes the derived key itself', async () => {
      // Prepare
      const message = HTTP.structured(orderCreated());

      // Act
      const other = await send(
        { ...message, headers: { ...message.headers, 'idempotency-key': 'k-1' } },
        400,
      );
      const same = await send(
        { ...message, headers: { ...message.headers, 'idempotency-key': keyOf(SOURCE, 'evt-1001') } },
        201,
      );

      // Assess
      expect(problem(other)).toEqual({
        code: 'VALIDATION_ERROR',
        message:
          "A CloudEvent's idempotency key comes from its source and id: send it without the Idempotency-Key header.",
        paths: ['/headers/idempotency-key'],
      });
      expect(same.headers['idempotent-replayed']).toBeUndefined();
    });
  });

  describe('400 with what to fix', () => {
    it.each(['id', 'source', 'type', 'specversion'])(
      'names the missing attribute %s, in structured and binary mode',
      async (attribute) => {
        // Prepare
        const binary = HTTP.binary(orderCreated());
        delete binary.headers[`ce-${attribute}`];

        // Act
        const structuredRes = await send(structuredWith({ [attribute]: undefined }), 400);
        const binaryRes = await send(binary, 400);

        // Assess
        expect(problem(structuredRes)).toEqual({
          code: 'VALIDATION_ERROR',
          message: `A CloudEvent needs the attribute '${attribute}'.`,
          paths: [`/body/${attribute}`],
        });
        expect(problem(binaryRes)).toEqual({
          code: 'VALIDATION_ERROR',
          message: `A CloudEvent needs the attribute '${attribute}': send it as the ce-${attribute} header.`,
          paths: [`/headers/ce-${attribute}`],
        });
        expect(await t.countEvents()).toBe(0);
      },
    );

    it('answers 400 for a specversion other than 1.0', async () => {
      // Prepare
      const event = orderCreated({ specversion: '0.3' });

      // Act
      const structuredRes = await send(HTTP.structured(event), 400);
      const binaryRes = await send(HTTP.binary(event), 400);

      // Assess
      const message = 'specversion must be "1.0" (this API takes CloudEvents 1.0), not "0.3".';
      expect(problem(structuredRes)).toEqual({
        code: 'VALIDATION_ERROR',
        message,
        paths: ['/body/specversion'],
      });
      expect(problem(binaryRes)).toEqual({
        code: 'VALIDATION_ERROR',
        message,
        paths: ['/headers/ce-specversion'],
      });
    });

    it.each([
      ['a string', 'order 1001'],
      ['an array', [1, 2]],
      ['null', null],
    ])('answers 400 for data that is %s', async (_name, data) => {
      // Act
      const res = await send(structuredWith({ data }), 400);

      // Assess
      expect(problem(res)).toEqual({
        code: 'VALIDATION_ERROR',
        message: 'data must be a JSON object; this API stores JSON objects as payload.',
        paths: ['/body/data'],
      });
    });

    it('answers 400 for binary data (data_base64), and for no data at all', async () => {
      // Prepare: the SDK sends a Buffer as data_base64
      const binaryData = HTTP.structured(orderCreated({ data: Buffer.from('raw bytes') }));

      // Act
      const base64 = await send(binaryData, 400);
      const none = await send(structuredWith({ data: undefined }), 400);

      // Assess
      expect(JSON.parse(binaryData.body as string).data_base64).toEqual(expect.any(String));
      expect(problem(base64)).toEqual({
        code: 'VALIDATION_ERROR',
        message:
          'data must be a JSON object; this API stores JSON objects as payload, so data_base64 (binary data) is not accepted.',
        paths: ['/body/data_base64', '/body/data'],
      });
      expect(problem(none).message).toBe(
        'data must be a JSON object; this API stores JSON objects as payload.',
      );
    });

    it('answers 400 for a source or type longer than an event takes, and for a blank one', async () => {
      // Act
      const longSource = await send(
        HTTP.structured(orderCreated({ source: `https://shop.example/${'s'.repeat(200)}` })),
        400,
      );
      const longType = await send(HTTP.binary(orderCreated({ type: 't'.repeat(129) })), 400);
      const blankType = await send(structuredWith({ type: '   ' }), 400);

      // Assess
      expect(problem(longSource)).toEqual({
        code: 'VALIDATION_ERROR',
        message: "source is 221 characters long; it becomes the event's source, which holds at most 128.",
        paths: ['/body/source'],
      });
      expect(problem(longType)).toEqual({
        code: 'VALIDATION_ERROR',
        message: "type is 129 characters long; it becomes the event's event_type, which holds at most 128.",
        paths: ['/headers/ce-type'],
      });
      expect(problem(blankType).message).toBe(
        "type must not be blank (nor hold lone surrogates); it becomes the event's event_type.",
      );
    });

    it('answers 400 for a time that is not RFC 3339, a bad extension name, and a non-JSON datacontenttype', async () => {
      // Act
      const time = await send(structuredWith({ time: '27/11/2026 15:30' }), 400);
      const name = await send(structuredWith({ Region: 'eu' }), 400);
      const value = await send(structuredWith({ region: { zone: 'a' } }), 400);
      const contentType = await send(structuredWith({ datacontenttype: 'text/xml' }), 400);

      // Assess
      expect(problem(time)).toEqual({
        code: 'VALIDATION_ERROR',
        message: 'time must be an RFC 3339 timestamp, such as 2026-11-27T15:30:00Z.',
        paths: ['/body/time'],
      });
      expect(problem(name)).toEqual({
        code: 'VALIDATION_ERROR',
        message: "'Region' is not a CloudEvents attribute name: use 1 to 64 lower-case letters and digits.",
        paths: ['/body/Region'],
      });
      expect(problem(value).message).toBe(
        "The attribute 'region' must be a string, a 32-bit integer or a boolean.",
      );
      expect(problem(contentType).message).toBe(
        'datacontenttype must be a JSON media type such as application/json; this API stores JSON objects as payload.',
      );
    });

    it('reads them just the same when the CloudEvent schema is compiled on first use (a Lambda made on demand)', async () => {
      // Prepare
      await t.close();
      t = await createTestApp({ compileValidatorsAtStart: false });

      // Act
      const bad = await send(structuredWith({ time: '2026-11-27 15:30:00Z' }), 400);
      const good = await send(HTTP.structured(orderCreated()), 201);

      // Assess
      expect(problem(bad).paths).toEqual(['/body/time']);
      expect(await read(good.body.event_id)).toMatchObject({ source: SOURCE, event_type: 'order.created' });
    });

    it('lists every attribute to fix, the most basic first', async () => {
      // Act
      const res = await send(structuredWith({ id: undefined, specversion: '2.0', data: 'x' }), 400);

      // Assess
      expect(problem(res).paths).toEqual(['/body/id', '/body/specversion', '/body/data']);
    });
  });

  describe('answers as for native events', () => {
    it('answers 403 to a key without events:write', async () => {
      // Prepare
      const readOnly = await t.createKey({ tenant: 'local', scopes: ['events:read'] });

      // Act
      const res = await send(HTTP.binary(orderCreated()), 403, readOnly);

      // Assess
      expect(res.body.error.details).toEqual({ required_scope: 'events:write' });
      expect(await t.countEvents()).toBe(0);
    });

    it('refuses a native event whose metadata.cloudevents is not CloudEvent attributes', async () => {
      // Act
      const res = await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', DEV_KEY)
          .send({
            source: 'billing',
            event_type: 'order.created',
            payload: {},
            metadata: { cloudevents: { id: 7 } },
          }),
        400,
      );

      // Assess
      expect(problem(res).paths).toEqual(['/body/metadata/cloudevents/id']);
    });

    it('answers 413 for data over the payload limit and for a body over 1 MiB', async () => {
      // Act
      const payload = await send(HTTP.structured(orderCreated({ data: { big: 'x'.repeat(409_600) } })), 413);
      const body = await send(HTTP.structured(orderCreated({ data: { big: 'x'.repeat(1024 * 1024) } })), 413);

      // Assess
      expect(payload.body.error.details).toEqual({ limit_bytes: 409_600, actual_bytes: 409_610 });
      expect(body.body.error.details.limit_bytes).toBe(1024 * 1024);
      expect(await t.countEvents()).toBe(0);
    });

    it('answers 415 for a batch sent to the single-event operation', async () => {
      // Act
      const res = await checked(
        post('/v1/events', {
          headers: { 'content-type': BATCH_TYPE },
          body: JSON.stringify([orderCreated()]),
        }),
        415,
      );

      // Assess
      expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });
  });

  describe('batch mode (application/cloudevents-batch+json on /v1/events/bulk)', () => {
    it('stores each good CloudEvent and fails a bad one alone, with its index', async () => {
      // Prepare
      const good = orderCreated();
      const bad = {
        ...JSON.parse(HTTP.structured(orderCreated({ id: 'evt-1002' })).body as string),
        data: 'x',
      };
      const other = orderCreated({ id: 'evt-1003', type: 'order.paid' });

      // Act
      const res = await batch([good, bad, other], 200);

      // Assess
      expect(
        res.body.successful.map((s: { index: number; replayed: boolean }) => [s.index, s.replayed]),
      ).toEqual([
        [0, false],
        [2, false],
      ]);
      expect(res.body.failed).toEqual([
        {
          index: 1,
          error: {
            code: 'VALIDATION_ERROR',
            message: 'data must be a JSON object; this API stores JSON objects as payload.',
            details: {
              errors: [
                {
                  path: '/body/1/data',
                  message: 'data must be a JSON object; this API stores JSON objects as payload.',
                },
              ],
            },
          },
        },
      ]);
      expect(await read(res.body.successful[1].event_id)).toMatchObject({
        event_type: 'order.paid',
        metadata: { idempotency_key: keyOf(SOURCE, 'evt-1003'), cloudevents: { id: 'evt-1003' } },
      });
      expect(await t.countEvents()).toBe(2);
    });

    it('replays a CloudEvent sent before, singly or in a batch, and fails one reused with other data', async () => {
      // Prepare: one event, as the SDK stamps a new time on each one it makes
      const event = orderCreated();
      const first = await send(HTTP.structured(event), 201);

      // Act
      const res = await batch([event, event.cloneWith({ data: { order_id: 'other' } })], 200);

      // Assess
      expect(res.body.successful).toEqual([
        expect.objectContaining({ index: 0, event_id: first.body.event_id, replayed: true }),
      ]);
      expect(res.body.failed).toEqual([
        expect.objectContaining({
          index: 1,
          error: expect.objectContaining({ code: 'IDEMPOTENCY_KEY_REUSED' }),
        }),
      ]);
      expect(await t.countEvents()).toBe(1);
    });

    it('answers 400 for a batch that is not an array of 1 to 100 objects', async () => {
      // Act
      const empty = await batch([], 400);
      const tooMany = await batch(
        Array.from({ length: 101 }, (_, i) => orderCreated({ id: `e-${i}` })),
        400,
      );
      const notArray = await batch(orderCreated() as unknown as unknown[], 400);
      const notObject = await batch([orderCreated(), 'evt'], 400);

      // Assess
      expect(problem(empty).message).toBe(
        'A CloudEvents batch is a JSON array of 1 to 100 CloudEvents; this one holds 0.',
      );
      expect(problem(tooMany).message).toBe(
        'A CloudEvents batch is a JSON array of 1 to 100 CloudEvents; this one holds 101.',
      );
      expect(problem(notArray).message).toBe('A CloudEvents batch is a JSON array of 1 to 100 CloudEvents.');
      expect(problem(notObject)).toEqual({
        code: 'VALIDATION_ERROR',
        message:
          'Item 1 of the CloudEvents batch is not a JSON object; send each CloudEvent in its structured JSON form.',
        paths: ['/body/1'],
      });
      expect(await t.countEvents()).toBe(0);
    });
  });
});
