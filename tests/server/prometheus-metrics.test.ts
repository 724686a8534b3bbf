import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { PrometheusMetrics } from '../../server/src/prometheus/metrics';
import { operationLookup, UNKNOWN_OPERATION } from '../../server/src/prometheus/request-metrics';
import { loadSpec } from '../../server/src/spec';
import { openSqliteStores } from '../../server/src/store/sqlite/open';
import { FakeClock } from '../helpers/fake-clock';
import { parsePrometheusText, samplesOf, sampleValue } from '../helpers/prometheus-text';
import { storeFixtures } from '../store/fixtures';

/**
 * The Prometheus metrics on a real SQLite store, scraped from their registry: what the
 * listener of tests/server/metrics-process.test.ts serves, with a clock the test moves.
 */
describe('PrometheusMetrics', () => {
  let dir: string;
  let stores: ReturnType<typeof openSqliteStores>;
  let clock: FakeClock;
  let waiting: number;
  const make = (topTenants: number) =>
    new PrometheusMetrics({
      store: stores.events,
      waitingLongPolls: () => waiting,
      topTenants,
      clock: clock.read,
      logger: pino({ level: 'silent' }),
    });
  const scrape = async (metrics: PrometheusMetrics) => parsePrometheusText(await metrics.registry.metrics());
  const { newEvent, created } = storeFixtures(() => ({ store: stores.events, clock }));
  const seed = async (tenantId: string, count: number) => {
    for (let i = 0; i < count; i += 1) await created({ event: newEvent({ tenantId }) });
  };
  const pendingGauges = (samples: ReturnType<typeof parsePrometheusText>) =>
    Object.fromEntries(
      samplesOf(samples, 'triggers_events_pending').map((sample) => [sample.labels.tenant, sample.value]),
    );

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-prometheus-'));
    clock = new FakeClock();
    stores = openSqliteStores(
      { sqlitePath: path.join(dir, 'triggers.db'), cursorSecret: undefined },
      clock.read,
    );
    waiting = 0;
  });
  afterEach(async () => {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the N tenants with the most pending events a gauge each, and sums the rest in _other', async () => {
    // Prepare: N = 2, and N + 2 tenants with pending events.
    await seed('tenant-a', 4);
    await seed('tenant-b', 3);
    await seed('tenant-c', 2);
    await seed('tenant-d', 1);
    const metrics = make(2);

    // Act
    const samples = await scrape(metrics);

    // Assess
    expect(pendingGauges(samples)).toEqual({ 'tenant-a': 4, 'tenant-b': 3 });
    expect(sampleValue(samples, 'triggers_events_pending_other')).toBe(3);
  });

  it('asks the store at most once per 15 s of its clock, however often it is scraped', async () => {
    // Prepare
    await seed('tenant-a', 1);
    const metrics = make(10);
    const first = await scrape(metrics);
    await seed('tenant-a', 2);
    await seed('tenant-b', 1);

    // Act
    const soon = await Promise.all([scrape(metrics), scrape(metrics)]);
    clock.advance(14_999);
    const justBefore = await scrape(metrics);
    clock.advance(1);
    const after = await scrape(metrics);

    // Assess: the count of the first scrape until 15 s have passed, then a new one.
    expect(pendingGauges(first)).toEqual({ 'tenant-a': 1 });
    for (const samples of [...soon, justBefore]) expect(pendingGauges(samples)).toEqual({ 'tenant-a': 1 });
    expect(pendingGauges(after)).toEqual({ 'tenant-a': 3, 'tenant-b': 1 });
    expect(sampleValue(after, 'triggers_events_pending_other')).toBe(0);
  });

  it('drops a tenant whose events are no longer pending at the next count', async () => {
    // Prepare
    await seed('tenant-a', 1);
    await seed('tenant-b', 1);
    const metrics = make(10);
    await scrape(metrics);
    const page = await stores.events.listPending({ tenantId: 'tenant-b', filters: {}, limit: 1 });
    await stores.events.ack('tenant-b', page.events[0]?.eventId as string, clock.now);

    // Act
    clock.advance(15_000);
    const samples = await scrape(metrics);

    // Assess
    expect(pendingGauges(samples)).toEqual({ 'tenant-a': 1 });
  });

  it('reads the waiting long-polls at each scrape', async () => {
    // Prepare
    const metrics = make(10);
    waiting = 3;
    const during = await scrape(metrics);

    // Act
    waiting = 0;
    const after = await scrape(metrics);

    // Assess
    expect(sampleValue(during, 'triggers_long_polls_waiting')).toBe(3);
    expect(sampleValue(after, 'triggers_long_polls_waiting')).toBe(0);
  });

  it('counts webhook attempts by outcome from 0, leaving out attempts that were cut or lost their claim', async () => {
    // Prepare
    const metrics = make(10);
    const before = await scrape(metrics);

    // Act
    for (const end of [
      'succeeded',
      'succeeded',
      'retrying',
      'failed',
      'dropped',
      'cut',
      'claim_lost',
    ] as const) {
      metrics.webhookAttemptEnded(end);
    }
    const after = await scrape(metrics);

    // Assess
    const byOutcome = (samples: ReturnType<typeof parsePrometheusText>) =>
      Object.fromEntries(
        samplesOf(samples, 'triggers_webhook_deliveries_total').map((s) => [s.labels.outcome, s.value]),
      );
    expect(byOutcome(before)).toEqual({ succeeded: 0, retrying: 0, failed: 0, dropped: 0 });
    expect(byOutcome(after)).toEqual({ succeeded: 2, retrying: 1, failed: 1, dropped: 1 });
  });

  it('counts the business events and errors by code, on a registry of its own', async () => {
    // Prepare: two sets of metrics in one process do not share counts.
    const metrics = make(10);
    const other = make(10);

    // Act
    metrics.app.eventsIngested(5);
    metrics.app.eventsReplayed(1);
    metrics.app.eventsAcked(2);
    metrics.app.eventsLeased(3);
    metrics.app.eventsNacked(1);
    metrics.app.eventsDeadLettered(1);
    metrics.app.errorAnswered('NOT_FOUND');
    metrics.app.errorAnswered('NOT_FOUND');
    metrics.app.errorAnswered('CONFLICT');
    const samples = await scrape(metrics);

    // Assess
    expect(sampleValue(samples, 'triggers_events_ingested_total')).toBe(5);
    expect(sampleValue(samples, 'triggers_events_replayed_total')).toBe(1);
    expect(sampleValue(samples, 'triggers_events_acked_total')).toBe(2);
    expect(sampleValue(samples, 'triggers_events_leased_total')).toBe(3);
    expect(sampleValue(samples, 'triggers_events_nacked_total')).toBe(1);
    expect(sampleValue(samples, 'triggers_events_dead_lettered_total')).toBe(1);
    expect(sampleValue(samples, 'triggers_errors_total', { code: 'NOT_FOUND' })).toBe(2);
    expect(sampleValue(samples, 'triggers_errors_total', { code: 'CONFLICT' })).toBe(1);
    expect(sampleValue(await scrape(other), 'triggers_events_ingested_total')).toBe(0);
    // The process's own metrics come with the prefix too.
    expect(samplesOf(samples, 'triggers_process_cpu_user_seconds_total')).toHaveLength(1);
  });
});

describe('operationLookup', () => {
  const operationOf = operationLookup(loadSpec().document.paths);

  it("names a request by the contract's operationId, concrete paths before templated ones", () => {
    expect(operationOf('POST', '/v1/events')).toBe('createEvent');
    expect(operationOf('POST', '/v1/events/bulk')).toBe('createEvents');
    expect(operationOf('GET', '/v1/events/0193a1c4-2b7d-4f3e-9a61-5c2d7e8f9a0b')).toBe('getEvent');
    expect(operationOf('POST', '/v1/events/abc/ack')).toBe('ackEvent');
    expect(operationOf('GET', '/docs')).toBe('getDocs');
  });

  it('names every other request unknown, never by its URL', () => {
    expect(operationOf('GET', '/v1/nope')).toBe(UNKNOWN_OPERATION);
    expect(operationOf('PATCH', '/v1/events')).toBe(UNKNOWN_OPERATION);
    expect(operationOf('GET', '/v1/events/a/b/c')).toBe(UNKNOWN_OPERATION);
    expect(operationOf('GET', '/docs/redoc.standalone.js')).toBe(UNKNOWN_OPERATION);
  });
});
