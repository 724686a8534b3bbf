import { createServer, type Server } from 'node:http';
import { DEV_API_KEY } from './auth/api-keys';
import { bootApp } from './boot';
import { systemClock } from './clock';
import { ConfigError, readConfig } from './config';
import { answerClientErrorsAsJson } from './http/client-error';
import { createLogger } from './logging';
import { LongPoll } from './long-poll';
import { PrometheusMetrics } from './prometheus/metrics';
import { type MetricsServer, startMetricsServer } from './prometheus/metrics-server';
import { requestMetrics } from './prometheus/request-metrics';
import { loadSpec } from './spec';
import { openStores } from './store/open-stores';
import { startDeliverer } from './webhooks/deliverer';

/** How long SIGTERM waits for in-flight requests before cutting connections. */
const SHUTDOWN_GRACE_MS = 10_000;

/** `npm start`: the API on the embedded SQLite store, or on DynamoDB (TRIGGERS_STORE). */
async function main(): Promise<void> {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  // Readable lines at a terminal, JSON otherwise (LOG_FORMAT); never blocking a request.
  const logger = createLogger(config);
  const stores = openStores(config, systemClock, {
    backgroundCheckpoints: {
      onError: (message) => logger.warn({ err: message }, 'WAL checkpoint failed; retrying'),
    },
  });
  // Aborted on SIGTERM before the server closes: long-polling requests answer (with nothing)
  // at once, so shutdown waits for no `wait` to run out and cuts no waiting client.
  const stopping = new AbortController();
  // Made here rather than by the app, so that the metrics can read how many requests wait.
  const longPoll = new LongPoll({
    clock: systemClock,
    pollIntervalMs: config.longPollIntervalMs,
    maxWaitingPerKey: config.maxWaitingPerKey,
  });
  // Prometheus metrics only when TRIGGERS_METRICS_PORT asks for them: otherwise nothing is
  // counted and no middleware is added to the request path.
  const prometheus = config.metrics
    ? new PrometheusMetrics({
        store: stores.events,
        waitingLongPolls: () => longPoll.waiting(),
        topTenants: config.metrics.topTenants,
        clock: systemClock,
        logger,
      })
    : undefined;
  // Webhooks go out from the durable delivery records, whichever store this server runs on.
  const spec = loadSpec();
  const deliverer = startDeliverer({
    config,
    webhooks: stores.webhooks,
    events: stores.events,
    clock: systemClock,
    logger,
    version: spec.document.info.version,
    onAttemptEnded: prometheus?.webhookAttemptEnded,
  });
  // Warmed up before listening: no client request pays for compiling the contract's schemas.
  const { app, warmUp } = await bootApp({
    config,
    stores,
    logger,
    spec,
    shutdown: stopping.signal,
    onEventsCreated: deliverer.notify,
    longPoll,
    metrics: prometheus?.app,
    requestMetrics: prometheus && requestMetrics(prometheus.requests, spec.document.paths),
  });
  let metricsServer: MetricsServer | undefined;
  if (prometheus && config.metrics) {
    metricsServer = await startMetricsServer({
      registry: prometheus.registry,
      host: config.metrics.host,
      port: config.metrics.port,
      logger,
    }).catch((error: Error) => {
      console.error(`Triggers API failed to listen for metrics: ${error.message}`);
      process.exit(1);
    });
  }

  // Slow or stalled clients cannot hold sockets forever, nor send unbounded headers (431).
  // Node checks the two request timeouts every connectionsCheckingInterval (30 s by default,
  // which would stretch a 15 s headers timeout to up to 45 s): check every second instead.
  const server = createServer(
    {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      keepAliveTimeout: config.http.keepAliveTimeoutMs,
      maxHeaderSize: config.http.maxHeaderBytes,
      connectionsCheckingInterval: 1_000,
    },
    app,
  );
  answerClientErrorsAsJson(server, { maxHeaderBytes: config.http.maxHeaderBytes });
  server.once('error', (error: Error) => {
    console.error(`Triggers API failed to listen: ${error.message}`);
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    logger.info(
      {
        url: `http://${config.host}:${port}`,
        store: config.store,
        location: stores.location,
        auth_mode: config.authMode,
        warm_up: warmUp,
        metrics_url: metricsServer?.url,
      },
      `Triggers API listening on http://${config.host}:${port} (docs at /docs)${metricsServer ? `, metrics on ${metricsServer.url}` : ''}`,
    );
    if (config.authMode === 'local') {
      logger.info(
        { dev_api_key: DEV_API_KEY, tenant_id: 'local' },
        `AUTH_MODE=local: the development key ${DEV_API_KEY} is accepted as tenant "local" with every scope`,
      );
    }
  });
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down: no new connections; finishing in-flight requests');
    stopping.abort();
    closeGracefully(server)
      .then(() => (metricsServer ? closeGracefully(metricsServer.server) : undefined))
      .then(() => deliverer.stop())
      .then(() => stores.close())
      .then(() => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

function closeGracefully(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

main().catch((error: unknown) => {
  console.error('Triggers API failed to start:', error);
  process.exit(1);
});
