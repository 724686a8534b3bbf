import pino from 'pino';
import request from 'supertest';
import { Deliverer } from '../../server/src/webhooks/deliverer';
import { createPoster } from '../../server/src/webhooks/post';
import { forbiddenAddress, type Resolver, TargetGuard } from '../../server/src/webhooks/target-guard';
import { checked } from '../helpers/contract';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

const FORBIDDEN = ['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1'];
const PUBLIC = '93.184.215.14';

/** DNS as the test says: `dns[name]` is what `name` resolves to right now. */
function fakeDns(dns: Record<string, string>): Resolver {
  return async (hostname) => {
    const address = dns[hostname];
    if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
}

describe('SSRF checks on webhook targets in AUTH_MODE=aws (DESIGN §11)', () => {
  let t: TestApp;
  let key: string;
  const dns: Record<string, string> = {};
  const resolver = fakeDns(dns);
  beforeEach(async () => {
    for (const name of Object.keys(dns)) delete dns[name];
    t = await createTestApp({ authMode: 'aws' }, undefined, { resolver });
    key = await t.createKey({ tenant: 'acme', scopes: ['events:write', 'subscriptions:manage'] });
  });
  afterEach(() => t.close());

  const subscribe = (targetUrl: string) =>
    request(t.app).post('/v1/subscriptions').set('X-API-Key', key).send({ target_url: targetUrl });

  it.each(FORBIDDEN)('refuses at subscribe a host that resolves to %s', async (address) => {
    dns['hooks.example.com'] = address;
    const res = await checked(subscribe('https://hooks.example.com/in'), 400);
    expect(res.body.error.details.reason).toBe('target_not_allowed');
    expect(res.body.error.message).toContain(address);
  });

  it.each([
    'https://127.0.0.1/in',
    'https://[::1]/in',
    'https://169.254.169.254/latest/meta-data',
    'https://10.0.0.1/',
  ])('refuses at subscribe the literal address in %s', async (url) => {
    const res = await checked(subscribe(url), 400);
    expect(res.body.error.details.reason).toBe('target_not_allowed');
  });

  it('refuses plain http, and a host that does not resolve', async () => {
    dns['hooks.example.com'] = PUBLIC;
    const http = await checked(subscribe('http://hooks.example.com/in'), 400);
    expect(http.body.error.message).toBe('target_url must be https.');
    const unknown = await checked(subscribe('https://nowhere.example.com/in'), 400);
    expect(unknown.body.error.message).toContain('does not resolve');
  });

  it('accepts an https target that resolves to a public address', async () => {
    dns['hooks.example.com'] = PUBLIC;
    await checked(subscribe('https://hooks.example.com/in'), 201);
  });
});

describe('SSRF checks at every connection', () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(() => receiver.close());

  /** Subscribes while the name is public, then points it at `address` and lets the deliverer try. */
  async function deliverAfterRebinding(mode: 'local' | 'aws', address: string) {
    const dns: Record<string, string> = { 'hooks.example.com': PUBLIC };
    const resolver = fakeDns(dns);
    let deliverer: Deliverer | undefined;
    const t = await createTestApp({ authMode: mode }, undefined, {
      resolver,
      onEventsCreated: () => deliverer?.notify(),
    });
    try {
      const key = await t.createKey({ tenant: 'acme', scopes: ['events:write', 'subscriptions:manage'] });
      const port = new URL(receiver.url).port;
      // The receiver listens on 127.0.0.1 over plain http; in aws mode the URL must be https,
      // which never matters: the refusal comes before any connection.
      const scheme = mode === 'aws' ? 'https' : 'http';
      const created = await checked(
        request(t.app)
          .post('/v1/subscriptions')
          .set('X-API-Key', key)
          .send({ target_url: `${scheme}://hooks.example.com:${port}/hooks` }),
        201,
      );
      dns['hooks.example.com'] = address;
      deliverer = new Deliverer({
        webhooks: t.webhooks,
        events: t.store,
        clock: t.clock.read,
        logger: pino({ level: 'silent' }),
        poster: createPoster(new TargetGuard(mode, resolver), { timeoutMs: 2_000, socketsPerHost: 2 }),
        retryScheduleSeconds: [60],
        concurrency: 4,
        concurrencyPerTarget: 2,
        claimMs: 5_000,
        userAgent: 'TriggersAPI-Webhooks/test',
        pollIntervalMs: 50,
      });
      deliverer.start();
      await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', key)
          .send({ source: 'billing', event_type: 'order.created', payload: {} }),
        201,
      );
      await until(() => true, 'a turn');
      await deliverer.idle();
      const { attempts } = await t.webhooks.listAttempts('acme', created.body.subscription_id, 10);
      return attempts[0];
    } finally {
      await deliverer?.stop();
      await t.close();
    }
  }

  it.each(FORBIDDEN.filter((a) => a !== '127.0.0.1'))(
    'refuses to connect when the name now resolves to %s',
    async (address) => {
      const entry = await deliverAfterRebinding('aws', address);
      expect(entry).toMatchObject({ statusCode: null, outcome: 'retrying' });
      expect(entry?.error).toContain(`resolves to ${address}`);
    },
  );

  it('refuses to connect to a receiver that is really there once the name points at 127.0.0.1', async () => {
    const entry = await deliverAfterRebinding('aws', '127.0.0.1');
    expect(entry?.error).toContain('resolves to 127.0.0.1');
    expect(receiver.received).toHaveLength(0);
  });

  it('delivers to the same receiver in AUTH_MODE=local, where loopback is allowed', async () => {
    const entry = await deliverAfterRebinding('local', '127.0.0.1');
    expect(entry).toMatchObject({ statusCode: 200, outcome: 'succeeded' });
    expect(receiver.received).toHaveLength(1);
  });
});

describe('SSRF checks before each request in AUTH_MODE=aws', () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(() => receiver.close());

  // Node connects to a literal address without a lookup: the guard checks it before the request.
  it.each([
    ['an http URL', (port: string) => `http://127.0.0.1:${port}/hooks`],
    ['a literal loopback address', (port: string) => `https://127.0.0.1:${port}/hooks`],
    ['a literal IPv6 loopback address', (port: string) => `https://[::1]:${port}/hooks`],
  ])('refuses %s stored before (say under AUTH_MODE=local), sending nothing', async (_name, url) => {
    const poster = createPoster(new TargetGuard('aws'), { timeoutMs: 2_000, socketsPerHost: 1 });
    try {
      const result = await poster.post(url(new URL(receiver.url).port), {}, '{}');
      expect(result.statusCode).toBeNull();
      expect(result.error).toMatch(/must be https|non-public address/);
      expect(receiver.received).toHaveLength(0);
    } finally {
      poster.close();
    }
  });

  it('lets AUTH_MODE=local post to the same literal loopback address', async () => {
    const poster = createPoster(new TargetGuard('local'), { timeoutMs: 2_000, socketsPerHost: 1 });
    try {
      const result = await poster.post(receiver.url, {}, '{}');
      expect(result).toEqual({ statusCode: 200, error: null });
    } finally {
      poster.close();
    }
  });
});

describe('forbiddenAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['10.0.0.1', true],
    ['172.16.5.4', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['224.0.0.251', true],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['::1', true],
    ['::', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['ff02::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.0.0.1', true],
    ['64:ff9b::a00:1', true],
    ['8.8.8.8', false],
    ['93.184.215.14', false],
    ['2606:4700:4700::1111', false],
    ['::ffff:8.8.8.8', false],
    ['not-an-ip', true],
  ])('%s is forbidden: %p', (address, expected) => {
    expect(forbiddenAddress(address)).toBe(expected);
  });
});
