import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, type WebhookEvent, WebhookVerificationError } from '../../sdk/src/index';
import { event } from './scripted-fetch';

// verifyWebhook against requests signed two ways: by the standardwebhooks library that it
// wraps, and by hand (HMAC-SHA256 from node:crypto, and literal signatures computed with
// openssl), so that a mistake shared by the library and this SDK would still show. Requests
// the API really sends are verified in subscriptions.test.ts.

/** The contract's example secret: whsec_ and the base64 of 32 bytes. */
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+j6uCZi9dKU=';
const OTHER_SECRET = 'whsec_8Hq0ZsCtiSJZtvvMUCWkHxKiHGnEpZ3zH3dlC8mVwlU=';

/** The body, the headers and the signature the API would send for `body` at `at`. */
function signed(body: string, options: { secret?: string; at?: Date; id?: string } = {}) {
  const id = options.id ?? (JSON.parse(body) as { event_id: string }).event_id;
  const at = options.at ?? new Date();
  const signature = new Webhook(options.secret ?? SECRET).sign(id, at, body);
  return {
    body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
      'content-type': 'application/json',
    } as Record<string, string>,
  };
}

const secondsAgo = (seconds: number) => new Date(Date.now() - seconds * 1000);

afterEach(() => {
  jest.useRealTimers();
});

describe('verifyWebhook', () => {
  it('returns the typed event of a request signed with the subscription secret', () => {
    // Prepare
    const sent = event(1, { payload: { order_id: 'ord_1', total: 42.5 } });
    const { body, headers } = signed(JSON.stringify(sent));

    // Act
    const received: WebhookEvent = verifyWebhook(SECRET, headers, body);

    // Assess
    expect(received).toEqual(sent);
    expect(received.event_id).toBe(sent.event_id);
  });

  it('accepts the body as a Buffer and the headers as a Headers, in any case', () => {
    // Prepare: non-ASCII text, where a decoding mistake would change the signed bytes
    const sent = event(2, { payload: { note: 'café ✓ 😀' } });
    const { body, headers } = signed(JSON.stringify(sent));
    const upperCase = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]),
    );

    // Act
    const fromBuffer = verifyWebhook(SECRET, new Headers(headers), Buffer.from(body, 'utf8'));
    const fromBytes = verifyWebhook(SECRET, upperCase, new TextEncoder().encode(body));

    // Assess
    expect(fromBuffer).toEqual(sent);
    expect(fromBytes).toEqual(sent);
  });

  it('accepts Node-style headers where a value is an array', () => {
    // Prepare
    const { body, headers } = signed(JSON.stringify(event(3)));
    const nodeHeaders = {
      ...headers,
      'webhook-signature': ['v1,bm90IGl0', headers['webhook-signature'] as string],
    };

    // Act
    const received = verifyWebhook(SECRET, nodeHeaders, body);

    // Assess
    expect(received.event_id).toBe(event(3).event_id);
  });

  it('accepts a request when one of several space-separated signatures matches', () => {
    // Prepare: as while a secret is being rotated
    const { body, headers } = signed(JSON.stringify(event(4)));
    const old = signed(body, { secret: OTHER_SECRET }).headers['webhook-signature'];
    headers['webhook-signature'] = `${old} ${headers['webhook-signature']}`;

    // Act
    const received = verifyWebhook(SECRET, headers, body);

    // Assess
    expect(received.event_id).toBe(event(4).event_id);
  });

  it('verifies a request signed by hand with HMAC-SHA256 over id.timestamp.body', () => {
    // Prepare: the key is the base64 after whsec_; the signature v1, and the base64 digest
    const body = JSON.stringify(event(5));
    const id = event(5).event_id;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const digest = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
    const headers = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${digest}` };

    // Act
    const received = verifyWebhook(SECRET, headers, body);

    // Assess
    expect(received).toEqual(event(5));
  });

  it('verifies the fixed vector of the contract example event, signature computed with openssl', () => {
    // Prepare: the contract's example event and secret, signed at the event's created_at
    jest.useFakeTimers({ now: Date.parse('2026-11-27T15:30:00.000Z') + 61_000 });
    const body =
      '{"event_id":"01936f7e-5a3b-7c41-9d2e-3f4a5b6c7d8e","created_at":"2026-11-27T15:30:00.000Z",' +
      '"source":"billing","event_type":"order.created","payload":{"order_id":"ord_1001","amount":49.95},' +
      '"status":"pending","metadata":{"priority":"normal"},"acknowledged_at":null,' +
      '"expires_at":"2026-12-04T15:30:00.000Z","delivery_count":0,"leased_until":null}';
    const headers = {
      'webhook-id': '01936f7e-5a3b-7c41-9d2e-3f4a5b6c7d8e',
      'webhook-timestamp': '1795793400',
      'webhook-signature': 'v1,VlhXheoPESYkCOLLPXhaURIlScZSvAJhZfC+svqV2d0=',
    };

    // Act
    const received = verifyWebhook(SECRET, headers, body);

    // Assess
    expect(received).toMatchObject({ event_id: headers['webhook-id'], payload: { amount: 49.95 } });
  });

  it("verifies Standard Webhooks' published test vector", () => {
    // Prepare: the vector of the Standard Webhooks and svix libraries, at its own time
    jest.useFakeTimers({ now: 1614265330 * 1000 });
    const headers = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };

    // Act
    const received = verifyWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, '{"test": 2432232314}');

    // Assess
    expect(received).toEqual({ test: 2432232314 });
  });

  it.each([
    ['a changed body', (r: ReturnType<typeof signed>) => ({ ...r, body: r.body.replace('"n":6', '"n":7') })],
    [
      'the body parsed and serialized again',
      (r: ReturnType<typeof signed>) => ({ ...r, body: JSON.stringify(JSON.parse(r.body), null, 2) }),
    ],
    [
      'a changed webhook-id',
      (r: ReturnType<typeof signed>) => ({ ...r, headers: { ...r.headers, 'webhook-id': 'x' } }),
    ],
    [
      'a changed webhook-timestamp',
      (r: ReturnType<typeof signed>) => ({
        ...r,
        headers: { ...r.headers, 'webhook-timestamp': String(Number(r.headers['webhook-timestamp']) - 1) },
      }),
    ],
    [
      'a signature of another version',
      (r: ReturnType<typeof signed>) => ({
        ...r,
        headers: { ...r.headers, 'webhook-signature': r.headers['webhook-signature']?.replace('v1,', 'v2,') },
      }),
    ],
  ])('throws WebhookVerificationError for %s', (_case, tamper) => {
    // Prepare
    const { body, headers } = tamper(signed(JSON.stringify(event(6))));

    // Act
    const act = () => verifyWebhook(SECRET, headers as Record<string, string>, body);

    // Assess
    expect(act).toThrow(WebhookVerificationError);
    expect(act).toThrow(/^No signature in webhook-signature matches the body/);
  });

  it('throws WebhookVerificationError for a request signed with another secret', () => {
    // Prepare
    const { body, headers } = signed(JSON.stringify(event(7)), { secret: OTHER_SECRET });

    // Act
    const error = catchError(() => verifyWebhook(SECRET, headers, body));

    // Assess
    expect(error).toBeInstanceOf(WebhookVerificationError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'WebhookVerificationError',
      message: expect.stringMatching(
        /the secret is not this subscription's, or the body is not the raw body/,
      ),
    });
  });

  it('throws WebhookVerificationError for a timestamp more than 5 minutes old, though well signed', () => {
    // Prepare
    jest.useFakeTimers({ now: Date.parse('2025-06-01T12:00:00.000Z') });
    const { body, headers } = signed(JSON.stringify(event(8)), { at: secondsAgo(301) });

    // Act
    const act = () => verifyWebhook(SECRET, headers, body);

    // Assess
    expect(act).toThrow(WebhookVerificationError);
    expect(act).toThrow('webhook-timestamp is 301 s in the past; more than 300 s from');
  });

  it('throws WebhookVerificationError for a timestamp more than 5 minutes ahead', () => {
    // Prepare
    jest.useFakeTimers({ now: Date.parse('2025-06-01T12:00:00.000Z') });
    const { body, headers } = signed(JSON.stringify(event(9)), { at: secondsAgo(-400) });

    // Act
    const act = () => verifyWebhook(SECRET, headers, body);

    // Assess
    expect(act).toThrow(/^webhook-timestamp is 400 s in the future/);
  });

  it('accepts a timestamp exactly 5 minutes old or ahead', () => {
    // Prepare
    jest.useFakeTimers({ now: Date.parse('2025-06-01T12:00:00.000Z') });
    const old = signed(JSON.stringify(event(10)), { at: secondsAgo(300) });
    const ahead = signed(JSON.stringify(event(10)), { at: secondsAgo(-300) });

    // Act
    const received = [
      verifyWebhook(SECRET, old.headers, old.body),
      verifyWebhook(SECRET, ahead.headers, ahead.body),
    ];

    // Assess
    expect(received.map((e) => e.event_id)).toEqual([event(10).event_id, event(10).event_id]);
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])(
    'throws WebhookVerificationError naming the missing header %s',
    (name) => {
      // Prepare
      const { body, headers } = signed(JSON.stringify(event(11)));
      delete headers[name];

      // Act
      const act = () => verifyWebhook(SECRET, headers, body);

      // Assess
      expect(act).toThrow(WebhookVerificationError);
      expect(act).toThrow(`The webhook request lacks the header ${name}.`);
    },
  );

  it('names every missing header, an empty one included', () => {
    // Act
    const act = () => verifyWebhook(SECRET, { 'webhook-id': '', 'content-type': 'application/json' }, '{}');

    // Assess
    expect(act).toThrow(
      'The webhook request lacks the headers webhook-id, webhook-timestamp, webhook-signature.',
    );
  });

  it('throws WebhookVerificationError for a timestamp that is not unix seconds', () => {
    // Prepare
    const { body, headers } = signed(JSON.stringify(event(12)));
    headers['webhook-timestamp'] = new Date().toISOString();

    // Act
    const act = () => verifyWebhook(SECRET, headers, body);

    // Assess
    expect(act).toThrow(WebhookVerificationError);
    expect(act).toThrow(/^webhook-timestamp is not a time in unix seconds: "\d{4}-/);
  });

  it('throws WebhookVerificationError for a signed body that is not a JSON object', () => {
    // Prepare
    const notJson = signed('not json', { id: 'msg_1' });
    const array = signed('[1,2]', { id: 'msg_2' });

    // Act
    const acts = [notJson, array].map(
      ({ body, headers }) =>
        () =>
          verifyWebhook(SECRET, headers, body),
    );

    // Assess
    expect(acts[0]).toThrow(WebhookVerificationError);
    expect(acts[0]).toThrow('The signed body is not JSON.');
    expect(acts[1]).toThrow(WebhookVerificationError);
    expect(acts[1]).toThrow('The signed body is not an event object.');
  });

  it('throws a TypeError for a parsed body or a secret that is not whsec_', () => {
    // Prepare
    const { body, headers } = signed(JSON.stringify(event(13)));

    // Act
    const parsed = () => verifyWebhook(SECRET, headers, JSON.parse(body) as string);
    const bare = () => verifyWebhook('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, body);
    const notBase64 = () => verifyWebhook('whsec_%%%', headers, body);

    // Assess
    expect(parsed).toThrow(TypeError);
    expect(parsed).toThrow(/raw request body as a string or bytes, got object: .*express\.raw/);
    expect(bare).toThrow(
      new TypeError("verifyWebhook needs the subscription's secret, a string that starts with whsec_."),
    );
    expect(notBase64).toThrow(TypeError);
  });
});

function catchError(act: () => unknown): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  throw new Error('expected it to throw');
}
