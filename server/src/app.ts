import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { Authenticator, type AuthMode } from './auth/authenticator';
import { FailedAuthLimiter } from './auth/failed-auth-limit';
import { authenticate } from './auth/middleware';
import { type Clock, systemClock } from './clock';
import { docsRouter } from './docs/routes';
import { compileEventInputValidator } from './events/input-schema';
import { eventsRouter } from './events/routes';
import { EventsService } from './events/service';
import { healthRouter } from './health/routes';
import { corsAllowList } from './http/cors';
import { errorHandler, notFound } from './http/error-handler';
import { jsonBody } from './http/json-body';
import { httpLogger } from './http/logger';
import { noConditionalRequests } from './http/no-conditional-requests';
import { openApiValidator } from './http/openapi-validator';
import { rateLimit, TokenBucketLimiter } from './http/rate-limit';
import { requestId } from './http/request-id';
import { routeGuard } from './http/route-guard';
import { securityHeaders } from './http/security-headers';
import { stopWarmUp } from './http/warm-up';
import { inboxRouter } from './inbox/routes';
import { InboxService } from './inbox/service';
import { meRouter } from './me/routes';
import { type AppMetrics, noMetrics } from './metrics';
import { type LoadedSpec, loadSpec } from './spec';
import { CursorCodec } from './store/cursor';
import type { EventStore } from './store/event-store';
import type { KeyStore } from './store/key-store';

const DAY_MS = 24 * 60 * 60 * 1000;

/** What the app needs of the configuration (see config.ts for where it comes from). */
export interface AppConfig {
  authMode: AuthMode;
  cursorSecret: string;
  retentionDays: number;
  /** Requests per second per API key; 0 turns rate limiting off. */
  rateLimit: number;
  rateBurst: number;
  /**
   * Failed authentications one client address may make at once, then as many per
   * `authFailureWindowSeconds` (see auth/failed-auth-limit.ts); unset or 0: not limited.
   */
  authFailureLimit?: number;
  authFailureWindowSeconds?: number;
  /** Express's 'trust proxy' (which X-Forwarded-For hops give the client address); unset: none. */
  trustProxy?: number | string | false;
  /** Exact origins allowed by CORS; unset or empty: no CORS at all. */
  corsOrigins?: readonly string[];
}

export interface AppDeps {
  store: EventStore;
  keys: KeyStore;
  config: AppConfig;
  logger: Logger;
  clock?: Clock;
  spec?: LoadedSpec;
  /** Business metrics (CloudWatch on Lambda); not recorded by default. */
  metrics?: AppMetrics;
  /** Redoc's standalone bundle for /docs; by default the one in node_modules. */
  redocBundlePath?: string;
}

/** The Express app: no listen, no environment. Entry points (local.ts) wire it up. */
export function createApp({
  store,
  keys,
  config,
  logger,
  clock = systemClock,
  spec = loadSpec(),
  metrics = noMetrics,
  redocBundlePath,
}: AppDeps): Express {
  const events = new EventsService({
    store,
    clock,
    retentionMs: config.retentionDays * DAY_MS,
    validateEventInput: compileEventInputValidator(spec.document),
    metrics,
  });
  const inbox = new InboxService(store, new CursorCodec(config.cursorSecret));
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

  app.use(requestId);
  app.use(httpLogger(logger));
  app.use(securityHeaders());
  if (config.corsOrigins?.length) app.use(corsAllowList(config.corsOrigins));
  app.use(noConditionalRequests);
  app.use(docsRouter(spec.text, redocBundlePath));
  app.use(routeGuard(spec.document.paths));
  // Authentication (then the rate limit) comes before body parsing and validation, so an
  // anonymous caller costs little and learns nothing about the contract's rules, and before
  // idempotency, so a refused request is never stored as the answer to replay.
  const guard = express.Router();
  guard.use(authenticate(authenticator, failedAuth));
  if (limiter) guard.use(rateLimit(limiter));
  app.use('/v1', (req, res, next) => (req.path === '/health' ? next() : guard(req, res, next)));
  app.use(jsonBody());
  app.use(openApiValidator(spec.document));
  app.use(stopWarmUp);
  app.use(healthRouter(store, spec.document.info.version, clock));
  app.use(eventsRouter(events));
  app.use(inboxRouter(inbox));
  app.use(meRouter());
  app.use(notFound);
  app.use(errorHandler(metrics));
  return app;
}
