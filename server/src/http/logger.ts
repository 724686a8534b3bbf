import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Principal } from '../auth/principal';
import { isWarmUpRequest } from './warm-up';

type LocalsResponse = ServerResponse & { locals?: Record<string, unknown> };

/**
 * One JSON line per request with its id, tenant, status and latency. Requests are
 * serialized by hand so that headers — and with them the API key — are never logged.
 */
export function httpLogger(logger: Logger) {
  return pinoHttp({
    logger,
    autoLogging: { ignore: isWarmUpRequest },
    genReqId: (_req: IncomingMessage, res: ServerResponse) =>
      ((res as LocalsResponse).locals?.requestId as string | undefined) ?? '',
    customAttributeKeys: { responseTime: 'latency_ms' },
    customProps: (_req: IncomingMessage, res: ServerResponse) => {
      const locals = (res as LocalsResponse).locals ?? {};
      const principal = locals.principal as Principal | undefined;
      return {
        request_id: locals.requestId,
        ...(principal ? { tenant_id: principal.tenantId, key_id: principal.keyId } : {}),
      };
    },
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
    // The error middleware logs each error once with its cause; do not log it again here.
    customErrorObject: (_req, _res, _error, value) => value,
    wrapSerializers: false,
  });
}
