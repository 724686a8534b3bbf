import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Principal } from '../auth/principal';
import { isWarmUpRequest } from './warm-up';

type LocalsResponse = ServerResponse & { locals?: Record<string, unknown> };

/**
 * One JSON line per request with its id, tenant, status and latency, and for an error its
 * `error_code` (what the client was told, so a 4xx can be told apart from the log alone).
 * Requests are serialized by hand so that headers — and with them the API key — are never logged.
 *
 * The identity fields are added once, when the answer is logged (the tenant is only known
 * after authentication); `req.log`, used for errors during the request, carries the request
 * id. That is two child loggers per request, and each key appears once in a line.
 */
export function httpLogger(logger: Logger) {
  return pinoHttp({
    logger,
    autoLogging: { ignore: isWarmUpRequest },
    genReqId: (_req: IncomingMessage, res: ServerResponse) =>
      ((res as LocalsResponse).locals?.requestId as string | undefined) ?? '',
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'request_id', responseTime: 'latency_ms' },
    customLogLevel: (_req, res, error) => {
      if (error || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return 'info';
    },
    serializers: {
      req: (req: { method: string; url: string; headers: Record<string, unknown> }) => ({
        method: req.method,
        url: req.url,
        retry_count: req.headers['x-retry-count'],
      }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
    customSuccessObject: (_req, res, value) => ({ ...value, ...answerFields(res) }),
    // The error middleware logs each error once with its cause; do not log it again here.
    customErrorObject: (_req, res, _error, value) => ({ ...value, ...answerFields(res) }),
    wrapSerializers: false,
  });
}

/** Who asked (once authenticated) and, for an error answer, its code (http/error-handler.ts). */
function answerFields(res: ServerResponse): Record<string, string> {
  const locals = (res as LocalsResponse).locals;
  const principal = locals?.principal as Principal | undefined;
  const errorCode = locals?.[ERROR_CODE_LOCAL] as string | undefined;
  const fields: Record<string, string> = principal
    ? { tenant_id: principal.tenantId, key_id: principal.keyId }
    : {};
  if (errorCode) fields.error_code = errorCode;
  return fields;
}

/** Where the error handler leaves the code it answered, for the request's log line. */
export const ERROR_CODE_LOCAL = 'errorCode';
