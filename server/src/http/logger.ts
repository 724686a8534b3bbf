import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal';
import { requestIdOf } from './request-id';
import { isWarmUpRequest } from './warm-up';

/** Where the error handler leaves the code it answered, for the request's log line. */
export const ERROR_CODE_LOCAL = 'errorCode';
const LOGGER_LOCAL = 'logger';

/**
 * One JSON line per request with its id, tenant, status and latency, and for an error its
 * `error_code` (what the client was told, so a 4xx can be told apart from the log alone).
 * Only the method, URL and `X-Retry-Count` of a request are logged: never its headers, and so
 * never the API key.
 *
 * One logger call per request, when the answer is done, and no child logger: pino-http made
 * two child loggers and serialised the request for every request. Without it (and with
 * helmet's headers computed once) ingest answered 12 % more requests a second on Node 24
 * (A/B in BENCHMARKS.md). The line's fields are the ones it wrote.
 */
export function httpLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    // Errors are logged for every request, warm-up ones included; answers for real ones only.
    res.locals[LOGGER_LOCAL] = logger;
    if (isWarmUpRequest(req)) {
      next();
      return;
    }
    const started = performance.now();
    res.once('close', () => logAnswer(logger, req, res, started));
    next();
  };
}

/** The logger for errors met while answering `res`, or undefined when requests are not logged. */
export function requestLogger(res: Response): Logger | undefined {
  return res.locals[LOGGER_LOCAL] as Logger | undefined;
}

function logAnswer(logger: Logger, req: Request, res: Response, started: number): void {
  const status = res.statusCode;
  const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  const principal = res.locals.principal as Principal | undefined;
  const errorCode = res.locals[ERROR_CODE_LOCAL] as string | undefined;
  logger[level](
    {
      request_id: requestIdOf(res),
      req: { method: req.method, url: req.originalUrl, retry_count: req.headers['x-retry-count'] },
      res: { status },
      latency_ms: Math.round(performance.now() - started),
      ...(principal && { tenant_id: principal.tenantId, key_id: principal.keyId }),
      ...(errorCode && { error_code: errorCode }),
    },
    // A connection closed before the answer was written out: the client went away.
    res.writableFinished ? 'request completed' : 'request aborted',
  );
}
