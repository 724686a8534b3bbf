import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { issueApiKey } from '../../server/src/auth/api-keys';
import { systemClock } from '../../server/src/clock';
import { ALL_SCOPES } from '../../server/src/store/key-store';
import { openSqliteStores } from '../../server/src/store/sqlite/open';
import { parsePrometheusText, type Sample, samplesOf, sampleValue } from '../helpers/prometheus-text';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

/**
 * `npm start` with TRIGGERS_METRICS_PORT: traffic through the real process, then its
 * Prometheus listener scraped over HTTP, the numbers checked exactly.
 *
 * The pending gauges are counted at the first scrape and then kept 15 s (the process runs on
 * the real clock), so every request that changes what is pending comes before the first scrape.
 */
const DEV_KEY = 'test-api-key-12345';

describe('The metrics listener of the server process', () => {
  let dir: string;
  let server: ServerProcess;
  let metricsUrl: string;
  let otherKey: string;
  let okReceiver: WebhookReceiver;
  let failingReceiver: WebhookReceiver;

  const api = async (method: string, url: string, key: string, body?: unknown) => {
    const res = await fetch(`${server.baseUrl}${url}`, {
      method,
      headers: { 'X-API-Key': key, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const ingest = (key: string, eventType: string) =>
    api('POST', '/v1/events', key, { source: 'shop', event_type: eventType, payload: { n: 1 } });
  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parsePrometheusText(await res.text());
  };
  /** Scrapes until `condition` holds (what happens in the process, on its event loop). */
  const scrapeUntil = async (condition: (samples: Sample[]) => boolean, what: string): Promise<Sample[]> => {
    const started = Date.now();
    for (;;) {
      const samples = await scrape();
      if (condition(samples)) return samples;
      if (Date.now() - started > 10_000) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const requests = (samples: Sample[], operation: string, status: number) =>
    sampleValue(samples, 'triggers_http_requests_total', { operation, status: String(status) });

  beforeAll(async () => {
    ensureServerBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-metrics-'));
    const sqlitePath = path.join(dir, 'triggers.db');
    // A second tenant, through a stored key (the dev key is tenant "local").
    const stores = openSqliteStores({ sqlitePath, cursorSecret: undefined }, systemClock);
    otherKey = (
      await issueApiKey(stores.keys, {
        tenantId: 'tenant-b',
        source: 'shop',
        scopes: [...ALL_SCOPES],
        createdAt: systemClock(),
      })
    ).apiKey;
    await stores.close();
    okReceiver = await startReceiver('/ok');
    failingReceiver = await startReceiver('/failing');
    failingReceiver.respond = () => ({ status: 500 });
    server = await startServer({
      TRIGGERS_SQLITE_PATH: sqlitePath,
      LOG_LEVEL: 'info',
      TRIGGERS_METRICS_PORT: '0',
      // One retry, an hour on: the failing delivery is attempted once during the test.
      TRIGGERS_WEBHOOK_RETRY_SCHEDULE: '3600',
    });
    metricsUrl = await metricsUrlOf(server);
  }, 120_000);
  afterAll(async () => {
    if (server) await killServer(server);
    await okReceiver?.close();
    await failingReceiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts requests, events, webhook deliveries, waiting long-polls and pending events per tenant', async () => {
    // Prepare: a subscription per tenant, each wanting one event type.
    const subscribe = (key: string, url: string, type: string) =>
      api('POST', '/v1/subscriptions', key, { target_url: url, event_types: [type] });
    expect((await subscribe(otherKey, okReceiver.url, 'hook.ok')).status).toBe(201);
    expect((await subscribe(DEV_KEY, failingReceiver.url, 'hook.fail')).status).toBe(201);

    // Act: 3 events for "local" (one acked, one leased), 2 for tenant-b, one unknown path.
    const localEvents = [
      await ingest(DEV_KEY, 'hook.fail'),
      await ingest(DEV_KEY, 'other.thing'),
      await ingest(DEV_KEY, 'other.thing'),
    ];
    await ingest(otherKey, 'hook.ok');
    await ingest(otherKey, 'other.thing');
    const acked = await api('POST', `/v1/events/${localEvents[0]?.body.event_id}/ack`, DEV_KEY);
    const leased = await api('POST', '/v1/inbox/lease', DEV_KEY, { limit: 1, visibility_timeout: 600 });
    const unknown = await fetch(`${server.baseUrl}/v1/no-such-path?secret=x`);
    await unknown.arrayBuffer();
    const samples = await scrapeUntil(
      (s) =>
        sampleValue(s, 'triggers_webhook_deliveries_total', { outcome: 'succeeded' }) === 1 &&
        sampleValue(s, 'triggers_webhook_deliveries_total', { outcome: 'retrying' }) === 1,
      'both webhook attempts are recorded',
    );

    // Assess
    expect(localEvents.map((e) => e.status)).toEqual([201, 201, 201]);
    expect([acked.status, leased.status, unknown.status]).toEqual([200, 200, 404]);
    expect((leased.body.events as unknown[]).length).toBe(1);
    expect(requests(samples, 'createSubscription', 201)).toBe(2);
    expect(requests(samples, 'createEvent', 201)).toBe(5);
    expect(requests(samples, 'ackEvent', 200)).toBe(1);
    expect(requests(samples, 'leaseEvents', 200)).toBe(1);
    expect(requests(samples, 'unknown', 404)).toBe(1);
    expect(requests(samples, 'getHealth', 200)).toBeGreaterThanOrEqual(1);
    // Every request of the histogram is counted too, and no label holds a URL.
    expect(
      sampleValue(samples, 'triggers_http_request_duration_seconds_count', {
        operation: 'createEvent',
        status: '201',
      }),
    ).toBe(5);
    const operations = new Set(
      samplesOf(samples, 'triggers_http_requests_total').map((s) => s.labels.operation ?? ''),
    );
    expect([...operations].filter((operation) => operation.includes('/'))).toEqual([]);
    expect(sampleValue(samples, 'triggers_events_ingested_total')).toBe(5);
    expect(sampleValue(samples, 'triggers_events_acked_total')).toBe(1);
    expect(sampleValue(samples, 'triggers_events_leased_total')).toBe(1);
    expect(sampleValue(samples, 'triggers_errors_total', { code: 'NOT_FOUND' })).toBe(1);
    expect(sampleValue(samples, 'triggers_webhook_deliveries_total', { outcome: 'failed' })).toBe(0);
    // Pending: not acked nor dead, the leased event included.
    expect(sampleValue(samples, 'triggers_events_pending', { tenant: 'local' })).toBe(2);
    expect(sampleValue(samples, 'triggers_events_pending', { tenant: 'tenant-b' })).toBe(2);
    expect(sampleValue(samples, 'triggers_events_pending_other')).toBe(0);
    expect(sampleValue(samples, 'triggers_long_polls_waiting')).toBe(0);
    expect(okReceiver.received).toHaveLength(1);
    expect(failingReceiver.received).toHaveLength(1);

    // Act: a long-poll that finds nothing waits; its client then gives up.
    const client = new AbortController();
    const longPoll = fetch(`${server.baseUrl}/v1/inbox/lease`, {
      method: 'POST',
      headers: { 'X-API-Key': otherKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ wait: 20, event_type: 'nothing.comes' }),
      signal: client.signal,
    }).catch((error: unknown) => error);
    const during = await scrapeUntil(
      (s) => sampleValue(s, 'triggers_long_polls_waiting') === 1,
      'the long-poll is waiting',
    );
    client.abort();
    await longPoll;
    const after = await scrapeUntil(
      (s) => sampleValue(s, 'triggers_long_polls_waiting') === 0,
      'the long-poll is no longer waiting',
    );

    // Assess: waiting 1, then 0; a request whose client left before its answer is not counted.
    expect(sampleValue(during, 'triggers_long_polls_waiting')).toBe(1);
    expect(sampleValue(after, 'triggers_long_polls_waiting')).toBe(0);
    expect(requests(after, 'leaseEvents', 200)).toBe(1);
  });

  it('serves metrics only on its own listener, bound to 127.0.0.1, and only at GET /metrics', async () => {
    // Act
    const onApiPort = await fetch(`${server.baseUrl}/metrics`);
    const otherPath = await fetch(new URL('/other', metricsUrl));
    const post = await fetch(metricsUrl, { method: 'POST' });

    // Assess
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    expect(new URL(metricsUrl).port).not.toBe(new URL(server.baseUrl).port);
    expect([onApiPort.status, otherPath.status, post.status]).toEqual([404, 404, 404]);
    expect(((await onApiPort.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    // Not reachable through the machine's other addresses, when it has any.
    const port = Number(new URL(metricsUrl).port);
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((address) => address && !address.internal && address.family === 'IPv4')
      .map((address) => address?.address as string);
    for (const address of external) {
      await expect(reachable(address, port)).resolves.toBe(false);
    }
    await otherPath.arrayBuffer();
    await post.arrayBuffer();
  });

  it('closes the metrics listener on SIGTERM with the rest of the server', async () => {
    // Act
    server.child.kill('SIGTERM');
    const code = await server.exited;

    // Assess
    expect(code).toBe(0);
    await expect(reachable('127.0.0.1', Number(new URL(metricsUrl).port))).resolves.toBe(false);
  });
});

/** Port 0: the start-up log line tells where the listener is (logs are written asynchronously). */
async function metricsUrlOf(server: ServerProcess): Promise<string> {
  const started = Date.now();
  for (;;) {
    const match = server.output().match(/"metrics_url":"([^"]+)"/);
    if (match) return match[1] as string;
    if (Date.now() - started > 10_000) throw new Error(`no metrics_url in the output:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether a TCP connection to the address and port is accepted. */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
