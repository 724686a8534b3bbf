import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { Authenticator } from './auth/authenticator';
import { FailedAuthLimiter } from './auth/failed-auth-limit';
import { authenticate } from './auth/middleware';
import { type Clock, systemClock } from './clock';
import { CLOUDEVENT_BATCH_MEDIA_TYPE, CLOUDEVENT_MEDIA_TYPE, CloudEventReader } from './cloudevents/parse';
import { cloudEventsIn, cloudEventsRouter } from './cloudevents/routes';
import {
  type Config,
  DEFAULT_LONG_POLL_INTERVAL_MS,
  DEFAULT_MAX_DELIVERIES,
  DEFAULT_MAX_WAITING_PER_KEY,
  DEFAULT_READINESS_PROBE_INTERVAL_MS,
} from './config';
import { docsRouter } from './docs/routes';
import { eventInputValidator } from './events/input-schema';
import { eventsRouter } from './events/routes';
import { EventsService } from './events/service';
import { Readiness } from './health/readiness';
import { healthRouter } from './health/routes';
import { corsAllowList } from './http/cors';
import { errorHandler } from './http/error-handler';
import { jsonBody } from './http/json-body';
import { httpLogger } from './http/logger';
import { noConditionalRequests } from './http/no-conditional-requests';
import { openApiValidator } from './http/openapi-validator';
import { rateLimit } from './http/rate-limit';
import { requestId } from './http/request-id';
import { routeGuard } from './http/route-guard';
import { securityHeaders } from './http/security-headers';
import { TokenBucketLimiter } from './http/token-bucket';
import { stopWarmUp } from './http/warm-up';
import { inboxRouter } from './inbox/routes';
import { InboxService } from './inbox/service';
import { leasesRouter } from './leases/routes';
import { LeasesService } from './leases/service';
import { LongPoll } from './long-poll';
import { meRouter } from './me/routes';
import { type AppMetrics, noMetrics } from './metrics';
import { type LoadedSpec, loadSpec } from './spec';
import { CursorCodec } from './store/cursor';
import type { EventStore } from './store/event-store';
import type { KeyStore } from './store/key-store';
import type { WebhookStore } from './store/webhook-store';
import { subscriptionsRouter } from './subscriptions/routes';
import { SubscriptionsService } from './subscriptions/service';
import { ValidationMessages } from './validation-messages';
import { type Resolver, TargetGuard } from './webhooks/target-guard';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What the app takes of the configuration (config.ts reads and documents each setting), so a
 * setting the app needs is named here once and boot.ts passes the Config through as it is.
 * The failed-authentication limit, 'trust proxy' and CORS may be left unset (tests do): unset
 * turns them off; the lease settings unset take config.ts's defaults; unset,
 * compileValidatorsAtStart is true. The cursor secret is the resolved one: the configured secret, or the one the
 * store generated and keeps.
 */
export type AppConfig = Pick<Config, 'authMode' | 'retentionDays' | 'rateLimit' | 'rateBurst'> &
  Partial<
    Pick<
      Config,
      | 'authFailureLimit'
      | 'authFailureWindowSeconds'
      | 'trustProxy'
      | 'corsOrigins'
      | 'maxDeliveries'
      | 'maxWaitingPerKey'
      | 'longPollIntervalMs'
      | 'readinessProbeIntervalMs'
      | 'compileValidatorsAtStart'
    >
  > & {
    cursorSecret: string;
  };

export interface AppDeps {
  store: EventStore;
  keys: KeyStore;
  config: AppConfig;
  logger: Logger;
  clock?: Clock;
  spec?: LoadedSpec;
  /** Business metrics (CloudWatch on Lambda); not recorded by default. */
  metrics?: AppMetrics;
  /**
   * Mounted first, so that it sees every answer: the long-running server's request metrics
   * (prometheus/request-metrics.ts). None by default, and none on Lambda.
   */
  requestMetrics?: RequestHandler;
  /** Redoc's standalone bundle for /docs; by default the one in node_modules. */
  redocBundlePath?: string;
  /**
   * Aborted when the server shuts down (local.ts, on SIGTERM, before it closes): waiting
   * long-polls answer at once, with nothing, instead of being cut.
   */
  shutdown?: AbortSignal;
  /** The long-poll waiters; by default made from the config. Tests pass one to watch it. */
  longPoll?: LongPoll;
  /** Subscriptions and their delivery records, in the store of `store`. */
  webhooks: WebhookStore;
  /** Told when an event was created, so that its webhooks go out at once (webhooks/deliverer.ts). */
  onEventsCreated?: () => void;
  /** Resolves webhook target hosts for the SSRF checks; tests inject one to play DNS. */
  resolver?: Resolver;
}

/** The Express app: no listen, no environment. Entry points (local.ts) wire it up. */
export function createApp({
  store: givenStore,
  keys,
  config,
  logger,
  clock = systemClock,
  spec = loadSpec(),
  metrics = noMetrics,
  requestMetrics,
  redocBundlePath,
  shutdown,
  webhooks,
  onEventsCreated,
  resolver,
  longPoll = new LongPoll({
    clock,
    pollIntervalMs: config.longPollIntervalMs ?? DEFAULT_LONG_POLL_INTERVAL_MS,
    maxWaitingPerKey: config.maxWaitingPerKey ?? DEFAULT_MAX_WAITING_PER_KEY,
  }),
}: AppDeps): Express {
  const readiness = new Readiness({
    store: givenStore,
    clock,
    probeIntervalMs: config.readinessProbeIntervalMs ?? DEFAULT_READINESS_PROBE_INTERVAL_MS,
  });
  // The features write through this: readiness learns of every write that fails in the store.
  const store = readiness.tracking(givenStore);
  if (shutdown?.aborted) longPoll.shutdown();
  else shutdown?.addEventListener('abort', () => longPoll.shutdown(), { once: true });
  const validationMessages = new ValidationMessages(spec.document);
  // Our own schemas (bulk items, CloudEvents): see Config.compileValidatorsAtStart.
  const compileWhen = config.compileValidatorsAtStart === false ? 'on first use' : 'now';
  const events = new EventsService({
    store,
    clock,
    retentionMs: config.retentionDays * DAY_MS,
    validateEventInput: eventInputValidator(spec.document, validationMessages, compileWhen),
    metrics,
    notifyAvailable: (tenantId) => {
      longPoll.notify(tenantId);
      onEventsCreated?.();
    },
  });
  const cloudEvents = new CloudEventReader(spec.document, compileWhen);
  const cursors = new CursorCodec(config.cursorSecret);
  const inbox = new InboxService(store, cursors, longPoll);
  const subscriptions = new SubscriptionsService({
    webhooks,
    clock,
    cursors,
    guard: new TargetGuard(config.authMode, resolver),
  });
  const leases = new LeasesService({
    store,
    clock,
    longPoll,
    maxDeliveries: config.maxDeliveries ?? DEFAULT_MAX_DELIVERIES,
    metrics,
  });
  const authenticator = new Authenticator({ keys, authMode: config.authMode, clock });
  const limiter =
    config.rateLimit > 0 ? new TokenBucketLimiter(config.rateLimit, config.rateBurst, clock) : undefined;
  const failedAuth = config.authFailureLimit
    ? new FailedAuthLimiter(config.authFailureLimit, config.authFailureWindowSeconds ?? 60, clock)
    : undefined;

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  app.set('trust proxy', config.trustProxy ?? false);

  if (requestMetrics) app.use(requestMetrics);
  app.use(requestId);
  app.use(httpLogger(logger));
  app.use(securityHeaders());
  if (config.corsOrigins?.length) app.use(corsAllowList(config.corsOrigins));
  app.use(noConditionalRequests);
  app.use(docsRouter(spec, redocBundlePath));
  app.use(routeGuard(spec.document.paths));
  // Authentication (then the rate limit) comes before body parsing and validation, so an
  // anonymous caller costs little and learns nothing about the contract's rules, and before
  // idempotency, so a refused request is never stored as the answer to replay.
  const guard = express.Router();
  guard.use(authenticate(authenticator, failedAuth));
  if (limiter) guard.use(rateLimit(limiter));
  app.use('/v1', (req, res, next) =>
    req.path === '/health' || req.path === '/health/ready' ? next() : guard(req, res, next),
  );
  app.use(
    jsonBody({
      '/v1/events': [CLOUDEVENT_MEDIA_TYPE],
      '/v1/events/bulk': [CLOUDEVENT_BATCH_MEDIA_TYPE],
    }),
  );
  // CloudEvents are read before the validator: binary mode must be turned into the
  // structured form the contract describes, and CloudEvents senders get messages in their
  // terms (parse.ts). The validator then checks the request as for any other.
  app.use(cloudEventsIn(cloudEvents));
  app.use(openApiValidator(spec.document));
  app.use(stopWarmUp);
  app.use(healthRouter(store, spec.document.info.version, clock, readiness));
  app.use(cloudEventsRouter(events, cloudEvents));
  app.use(eventsRouter(events));
  app.use(inboxRouter(inbox));
  app.use(leasesRouter(leases));
  app.use(subscriptionsRouter(subscriptions));
  app.use(meRouter());
  // No catch-all 404 here: routeGuard has answered every path and method the contract lacks,
  // and every operation of the contract has its handler above.
  app.use(errorHandler(metrics, validationMessages));
  return app;
}
