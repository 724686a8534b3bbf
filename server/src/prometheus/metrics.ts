import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock';
import type { ErrorCode } from '../errors';
import type { AppMetrics } from '../metrics';
import type { EventStore } from '../store/event-store';
import type { AttemptEnd } from '../webhooks/attempt';
import { CachedPendingCounts } from './pending-counts';

/** Every metric's name starts with it, the process and Node.js ones included. */
export const METRIC_PREFIX = 'triggers_';

/** A store query for the pending gauges at most this often, whatever the scrapes. */
export const PENDING_REFRESH_MS = 15_000;

/**
 * Seconds: most answers take 1 to 50 ms; long-polls wait up to 20 s (`wait`), and a request
 * may last up to TRIGGERS_REQUEST_TIMEOUT_MS.
 */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30];

/** How webhook attempts end that count (as the Lambda's EMF WebhookDeliveries* metrics do). */
const DELIVERY_OUTCOMES = ['succeeded', 'retrying', 'failed', 'dropped'] as const;

export interface PrometheusMetricsOptions {
  /** Pending events per tenant are counted by it (EventStore.countPending). */
  store: Pick<EventStore, 'countPending'>;
  /** Long-polling requests waiting now, read at each scrape (LongPoll.waiting). */
  waitingLongPolls: () => number;
  /** Tenants with a pending gauge of their own (TRIGGERS_METRICS_TOP_TENANTS). */
  topTenants: number;
  clock: Clock;
  logger: Logger;
  /** Default PENDING_REFRESH_MS. */
  pendingRefreshMs?: number;
}

/** The two request metrics, by operation and status (see request-metrics.ts). */
export interface RequestInstruments {
  requests: Counter<'operation' | 'status'>;
  duration: Histogram<'operation' | 'status'>;
}

/**
 * The long-running server's metrics in Prometheus form (prom-client), on a registry of their
 * own rather than prom-client's global one, so that several apps in one process (tests) do not
 * share counts. local.ts serves it on TRIGGERS_METRICS_PORT (metrics-server.ts). On Lambda the
 * same facts go to CloudWatch as EMF (lambda/metrics.ts) and none of this is loaded.
 *
 * Labels are bounded: operations are the contract's operationIds, statuses HTTP codes, errors
 * the contract's codes, tenants only the top `topTenants` by pending events.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  /** The business counters, what the app reports through its AppMetrics port. */
  readonly app: AppMetrics;
  readonly requests: RequestInstruments;
  private readonly deliveries: Counter<'outcome'>;

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    this.requests = {
      requests: new Counter({
        name: `${METRIC_PREFIX}http_requests_total`,
        help: 'HTTP requests answered, by operation (the contract operationId, or unknown) and status',
        labelNames: ['operation', 'status'],
        registers,
      }),
      duration: new Histogram({
        name: `${METRIC_PREFIX}http_request_duration_seconds`,
        help: 'Time from a request to its answer, by operation and status; long-polls included',
        labelNames: ['operation', 'status'],
        buckets: DURATION_BUCKETS,
        registers,
      }),
    };
    this.app = businessCounters(registers);
    this.deliveries = new Counter({
      name: `${METRIC_PREFIX}webhook_deliveries_total`,
      help: 'Webhook attempts by outcome: succeeded, retrying (failed, will be retried), failed (no more attempts), dropped (subscription gone)',
      labelNames: ['outcome'],
      registers,
    });
    // Present at 0 from the start, so that rate() and alerts see every outcome.
    for (const outcome of DELIVERY_OUTCOMES) this.deliveries.inc({ outcome }, 0);

    new Gauge({
      name: `${METRIC_PREFIX}long_polls_waiting`,
      help: 'Long-polling requests (wait on lease and inbox) waiting now in this process',
      registers,
      collect() {
        this.set(options.waitingLongPolls());
      },
    });
    const pending = new CachedPendingCounts({
      store: options.store,
      clock: options.clock,
      topTenants: options.topTenants,
      refreshMs: options.pendingRefreshMs ?? PENDING_REFRESH_MS,
      logger: options.logger,
    });
    new Gauge({
      name: `${METRIC_PREFIX}events_pending`,
      help: `Pending events (not acked nor dead, leased ones included) of the ${options.topTenants} tenants with the most; counted at most every ${(options.pendingRefreshMs ?? PENDING_REFRESH_MS) / 1000} s`,
      labelNames: ['tenant'],
      registers,
      async collect() {
        const counts = await pending.read();
        if (!counts) return;
        this.reset();
        for (const { tenantId, pending } of counts.top) this.set({ tenant: tenantId }, pending);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}events_pending_other`,
      help: 'Pending events of every tenant without a triggers_events_pending gauge of its own',
      registers,
      async collect() {
        const counts = await pending.read();
        if (!counts) return;
        this.set(counts.total - counts.top.reduce((sum, tenant) => sum + tenant.pending, 0));
      },
    });
  }

  /** How a webhook attempt of the server's deliverer ended (webhooks/deliverer.ts). */
  readonly webhookAttemptEnded = (end: AttemptEnd): void => {
    // `cut` and `claim_lost` sent nothing or recorded nothing: the delivery is made again.
    if (end === 'cut' || end === 'claim_lost') return;
    this.deliveries.inc({ outcome: end });
  };
}

/** AppMetrics as counters; errors by their envelope code. */
function businessCounters(registers: Registry[]): AppMetrics {
  const counter = (name: string, help: string) =>
    new Counter({ name: `${METRIC_PREFIX}${name}`, help, registers });
  const ingested = counter('events_ingested_total', 'New events written (replays not included)');
  const replayed = counter('events_replayed_total', 'Requests answered from an earlier idempotency key');
  const acked = counter('events_acked_total', 'Events moved from pending to acknowledged');
  const leased = counter('events_leased_total', 'Events handed out by leases, redeliveries included');
  const nacked = counter('events_nacked_total', 'Leases ended by a nack');
  const deadLettered = counter('events_dead_lettered_total', 'Events a nack made dead');
  const errors = new Counter({
    name: `${METRIC_PREFIX}errors_total`,
    help: 'Error answers by their envelope code',
    labelNames: ['code'],
    registers,
  });
  return {
    eventsIngested: (count) => ingested.inc(count),
    eventsReplayed: (count) => replayed.inc(count),
    eventsAcked: (count) => acked.inc(count),
    eventsLeased: (count) => leased.inc(count),
    eventsNacked: (count) => nacked.inc(count),
    eventsDeadLettered: (count) => deadLettered.inc(count),
    errorAnswered: (code: ErrorCode) => errors.inc({ code }),
  };
}
