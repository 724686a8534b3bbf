import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Principal } from '../auth/principal';
import { isWarmUpRequest } from './warm-up';

type LocalsResponse = ServerResponse & { locals?: Record<string, unknown> };

/**
 * One JSON line per request with its id, tenant, status and latency. Requests are
 * serialized by hand so that headers — and with them the API key — are never logged.
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
    customSuccessObject: (_req, res, value) => ({ ...value, ...principalFields(res) }),
    // The error middleware logs each error once with its cause; do not log it again here.
    customErrorObject: (_req, res, _error, value) => ({ ...value, ...principalFields(res) }),
    wrapSerializers: false,
  });
}

function principalFields(res: ServerResponse): Record<string, string> {
  const principal = (res as LocalsResponse).locals?.principal as Principal | undefined;
  return principal ? { tenant_id: principal.tenantId, key_id: principal.keyId } : {};
}
