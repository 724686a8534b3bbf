import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import { isWarmUpRequest } from '../http/warm-up';
import type { RequestInstruments } from './metrics';

/** The operation of a request that matches none of the contract's: never the raw URL. */
export const UNKNOWN_OPERATION = 'unknown';

const STARTED = Symbol('triggers.request-started');

type TimedResponse = ServerResponse & { [STARTED]?: number };

/** What express-openapi-validator attaches to a request it matched (openapi.metadata.js). */
type MatchedRequest = IncomingMessage & {
  openapi?: { schema?: { operationId?: string } };
  originalUrl?: string;
};

/** The labelled children of one (operation, status). */
interface Instruments {
  requests: ReturnType<RequestInstruments['requests']['labels']>;
  duration: ReturnType<RequestInstruments['duration']['labels']>;
}

/**
 * Counts every answer and its latency by operation and status, first in the chain so that it
 * sees answers of every middleware (401, 404, 429 included). The operation is the contract's
 * operationId: the validator's match when the request reached it (the usual case, at no
 * cost), else the path and method looked up in the contract, else `unknown`. A client that
 * hangs up before its answer is not counted (nothing was answered).
 *
 * On the hot path: one listener (a shared function, no closure per request), one number on
 * the response, and prom-client's own label handling, with the labelled children kept per
 * (operation, status) so they are looked up, not made, per request.
 */
export function requestMetrics(
  instruments: RequestInstruments,
  specPaths: Record<string, Record<string, unknown>>,
): RequestHandler {
  const operationOf = operationLookup(specPaths);
  const children = new Map<string, Map<number, Instruments>>();

  const childrenOf = (operation: string, status: number): Instruments => {
    let byStatus = children.get(operation);
    if (!byStatus) {
      byStatus = new Map();
      children.set(operation, byStatus);
    }
    let child = byStatus.get(status);
    if (!child) {
      child = {
        requests: instruments.requests.labels(operation, String(status)),
        duration: instruments.duration.labels(operation, String(status)),
      };
      byStatus.set(status, child);
    }
    return child;
  };

  function finished(this: TimedResponse): void {
    const started = this[STARTED] as number;
    const req = this.req as MatchedRequest;
    const operation = req.openapi?.schema?.operationId ?? operationOf(req.method ?? '', pathOf(req));
    const child = childrenOf(operation, this.statusCode);
    child.requests.inc();
    child.duration.observe((performance.now() - started) / 1000);
  }

  return (req, res, next) => {
    // Warm-up requests (http/warm-up.ts) are the process talking to itself at start.
    if (!isWarmUpRequest(req)) {
      (res as TimedResponse)[STARTED] = performance.now();
      res.on('finish', finished);
    }
    next();
  };
}

function pathOf(req: MatchedRequest): string {
  const url = req.originalUrl ?? req.url ?? '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * (method, path) to the contract's operationId, or UNKNOWN_OPERATION. Matching is exact, as
 * http/route-guard.ts matches: concrete paths first (a map), then templated ones.
 */
export function operationLookup(
  specPaths: Record<string, Record<string, unknown>>,
): (method: string, path: string) => string {
  const exact = new Map<string, Map<string, string>>();
  const templated: Array<{ pattern: RegExp; operations: Map<string, string> }> = [];
  for (const [template, item] of Object.entries(specPaths)) {
    const operations = new Map<string, string>();
    for (const [method, operation] of Object.entries(item)) {
      const id = (operation as { operationId?: unknown } | null)?.operationId;
      if (typeof id === 'string') operations.set(method.toUpperCase(), id);
    }
    if (!template.includes('{')) {
      exact.set(template, operations);
      continue;
    }
    const pattern = template
      .split(/(\{[^}]+\})/)
      .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    templated.push({ pattern: new RegExp(`^${pattern}$`), operations });
  }
  return (method, path) => {
    const operations = exact.get(path) ?? templated.find((route) => route.pattern.test(path))?.operations;
    return operations?.get(method) ?? UNKNOWN_OPERATION;
  };
}
