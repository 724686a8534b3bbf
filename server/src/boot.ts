import type { Express, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { createApp } from './app';
import type { Config } from './config';
import { type WarmUpReport, warmUp } from './http/warm-up';
import type { LongPoll } from './long-poll';
import type { AppMetrics } from './metrics';
import type { LoadedSpec } from './spec';
import type { OpenedStores } from './store/open-stores';

export interface BootOptions {
  config: Config;
  stores: OpenedStores;
  logger: Logger;
  spec: LoadedSpec;
  metrics?: AppMetrics;
  /** First in the chain: sees every answer (the server's Prometheus request metrics). */
  requestMetrics?: RequestHandler;
  /** The long-poll waiters, when the caller watches them (the server's metrics). */
  longPoll?: LongPoll;
  redocBundlePath?: string;
  /** Aborted on shutdown: waiting long-polls answer at once (see AppDeps.shutdown). */
  shutdown?: AbortSignal;
  /** Told when events were created (the in-process webhook deliverer). */
  onEventsCreated?: () => void;
}

/**
 * The app on opened stores, warmed up (see http/warm-up.ts) unless the config says to compile
 * each operation's schemas on its first request: what `npm start` (local.ts) listens with and
 * what each Lambda container (lambda.ts) serves.
 */
export async function bootApp(
  options: BootOptions,
): Promise<{ app: Express; warmUp: WarmUpReport | undefined }> {
  const { config, stores, logger, spec } = options;
  const app = createApp({
    store: stores.events,
    keys: stores.keys,
    webhooks: stores.webhooks,
    onEventsCreated: options.onEventsCreated,
    logger,
    spec,
    metrics: options.metrics,
    requestMetrics: options.requestMetrics,
    longPoll: options.longPoll,
    redocBundlePath: options.redocBundlePath,
    shutdown: options.shutdown,
    // All of Config: the app reads only its part of it (AppConfig), with the resolved secret.
    config: { ...config, cursorSecret: await stores.cursorSecret() },
  });
  if (!config.compileValidatorsAtStart) return { app, warmUp: undefined };
  const report = await warmUp(app, spec.document.paths);
  if (report.unexpected.length > 0) logger.warn({ unexpected: report.unexpected }, 'warm-up missed routes');
  return { app, warmUp: report };
}
