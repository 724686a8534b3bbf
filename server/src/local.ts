import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import pino from 'pino';
import { createApp } from './app';
import { DEV_API_KEY } from './auth/api-keys';
import { systemClock } from './clock';
import { ConfigError, readConfig } from './config';
import { loadSpec } from './spec';
import { SqliteEventStore } from './store/sqlite';
import { getOrCreateSetting, openSqliteDatabase } from './store/sqlite-database';
import { SqliteKeyStore } from './store/sqlite-keys';

/** How long SIGTERM waits for in-flight requests before cutting connections. */
const SHUTDOWN_GRACE_MS = 10_000;

/** `npm start`: the API on the embedded SQLite store. */
function main(): void {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  // Asynchronous destination: logging never blocks a request on a write to stdout.
  const logger = pino({ level: config.logLevel }, pino.destination({ sync: false }));
  const db = openSqliteDatabase(config.sqlitePath);
  const store = new SqliteEventStore(db, { clock: systemClock });
  const keys = new SqliteKeyStore(db);
  const cursorSecret =
    config.cursorSecret ??
    getOrCreateSetting(db, 'cursor_secret', () => randomBytes(32).toString('base64url'));
  const spec = loadSpec();
  const app = createApp({
    store,
    keys,
    logger,
    spec,
    config: {
      authMode: config.authMode,
      cursorSecret,
      retentionDays: config.retentionDays,
      rateLimit: config.rateLimit,
      rateBurst: config.rateBurst,
    },
  });

  const server = app.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    logger.info(
      {
        url: `http://${config.host}:${port}`,
        store: store.kind,
        sqlite_path: config.sqlitePath,
        auth_mode: config.authMode,
      },
      `Triggers API listening on http://${config.host}:${port} (docs at /docs)`,
    );
    if (config.authMode === 'local') {
      logger.info(
        { dev_api_key: DEV_API_KEY, tenant_id: 'local' },
        `AUTH_MODE=local: the development key ${DEV_API_KEY} is accepted as tenant "local" with every scope`,
      );
    }
  });
  // Slow or stalled clients cannot hold sockets forever.
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down: no new connections; finishing in-flight requests');
    closeGracefully(server)
      .then(() => store.close())
      .then(() => {
        db.close();
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

main();
