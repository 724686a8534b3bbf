import type { IncomingMessage } from 'node:http';
import type { Express, RequestHandler } from 'express';
import serverless from 'serverless-http';
import type { Principal } from '../auth/principal';
import { ALL_SCOPES } from '../store/key-store';
import { requestIdOf } from './request-id';

/**
 * Start-up warm-up. express-openapi-validator compiles a route's request and response schemas
 * on the first request to it (30–150 ms a route on a small machine). No client should pay that
 * when nobody waits for the start: `npm start` warms up before it listens, and so does a Lambda
 * container made for provisioned concurrency. A Lambda container made on demand skips it (see
 * Config.compileValidatorsAtStart): the request that made the container waits for its init,
 * and would pay for every route instead of its own.
 *
 * The process sends itself one valid request per operation of the contract and media type of
 * its body (its documented example), in process (serverless-http, no socket). The validator
 * checks it — compiling the route's request schemas — and `stopWarmUp`, right after it,
 * answers a documented 400 through `res.json`, which compiles the route's response schemas. No
 * handler or store is reached.
 *
 * Warm-up requests are marked with a symbol that only this module can set, so nothing that
 * arrives over HTTP can pass for one.
 */
const WARM_UP = Symbol('triggers.warm-up');

type Marked = IncomingMessage & { [WARM_UP]?: true };

export function isWarmUpRequest(req: IncomingMessage): boolean {
  return (req as Marked)[WARM_UP] === true;
}

/** Who a warm-up request is: every scope, so it reaches the validator on every route. */
export const WARM_UP_PRINCIPAL: Principal = {
  tenantId: '__warm_up__',
  keyId: 'warm-up',
  source: 'warm-up',
  scopes: ALL_SCOPES,
};

const ANSWERED_HEADER = 'X-Warm-Up';

/** Right after the validator: a warm-up request stops here, answered through the response validator. */
export const stopWarmUp: RequestHandler = (req, res, next) => {
  if (!isWarmUpRequest(req)) {
    next();
    return;
  }
  res.setHeader(ANSWERED_HEADER, 'compiled');
  res.status(400).json({
    error: { code: 'VALIDATION_ERROR', message: 'warm-up', details: {}, request_id: requestIdOf(res) },
  });
};

export interface WarmUpReport {
  requests: number;
  ms: number;
  /** Operations the validator did not pass on to `stopWarmUp`: the warm-up missed them. */
  unexpected: string[];
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);
/** A valid value of each path parameter of the contract, so the validator passes the request. */
const SAMPLE_PATH_VALUES: Record<string, string> = {
  event_id: '00000000-0000-4000-8000-000000000000',
  subscription_id: `sub_${'0'.repeat(32)}`,
};

export async function warmUp(
  app: Express,
  paths: Record<string, Record<string, unknown>>,
): Promise<WarmUpReport> {
  const started = performance.now();
  const handle = serverless(app, {
    requestId: '',
    request: (req: Marked) => {
      req[WARM_UP] = true;
    },
  });
  const unexpected: string[] = [];
  let requests = 0;
  // The API's operations; /openapi.yaml and /docs are answered before the validator.
  for (const [path, item] of Object.entries(paths).filter(([path]) => path.startsWith('/v1/'))) {
    for (const [method, operation] of Object.entries(item).filter(([key]) => METHODS.has(key))) {
      const verb = method.toUpperCase();
      // One request per media type of the body (the validator compiles each on its own):
      // application/json, and the CloudEvents types where the operation takes them.
      for (const { mediaType, example } of exampleBodies(operation as Operation)) {
        const response = (await handle(
          {
            version: '2.0',
            rawPath: path.replace(/\{([^}]+)\}/g, (_match, name: string) => SAMPLE_PATH_VALUES[name] ?? name),
            rawQueryString: '',
            // The validator caches per content type: as our SDK and the README's curl send them.
            headers: mediaType === undefined ? {} : { 'content-type': mediaType },
            body: example === undefined ? '' : JSON.stringify(example),
            isBase64Encoded: false,
            requestContext: { http: { method: verb, sourceIp: '127.0.0.1' }, requestId: 'warm-up' },
          },
          {},
        )) as { statusCode: number; headers?: Record<string, string> };
        requests += 1;
        if (response.headers?.[ANSWERED_HEADER.toLowerCase()] !== 'compiled') {
          unexpected.push(
            `${verb} ${path}${mediaType ? ` (${mediaType})` : ''} answered ${response.statusCode} before the validator passed it`,
          );
        }
      }
    }
  }
  return { requests, ms: Math.round(performance.now() - started), unexpected };
}

interface Operation {
  requestBody?: {
    content?: Record<string, { example?: unknown; examples?: Record<string, { value?: unknown }> }>;
  };
}

/** The operation's documented example body of each media type; one bodiless request if it takes none. */
function exampleBodies(operation: Operation): Array<{ mediaType?: string; example?: unknown }> {
  const content = Object.entries(operation.requestBody?.content ?? {});
  if (content.length === 0) return [{}];
  return content.map(([mediaType, media]) => ({
    mediaType,
    example: media.example ?? Object.values(media.examples ?? {})[0]?.value ?? {},
  }));
}
