import type { IncomingMessage } from 'node:http';
import { isSafeRequestId, toSafeRequestId } from '../http/request-id';

/** What this module reads of an API Gateway REST (v1) or HTTP API (v2) proxy event. */
export interface GatewayEvent {
  version?: string;
  requestContext?: { requestId?: string; stage?: string };
}

/**
 * The first path segments the app serves; a stage prefix is recognised in front of them only,
 * and in front of `/` itself (`/prod/`, which redirects to the reference).
 */
const APP_ROOTS = ['/v1/', '/openapi.yaml', '/docs'];

/**
 * Adapts serverless-http's request to what the app expects before it runs:
 * - the request id is the client's `X-Request-ID` when safe, else API Gateway's own, so a
 *   request can be followed from API Gateway's logs to ours;
 * - an HTTP API's named stage (`/prod/v1/events` in `rawPath`) is taken off the path. REST
 *   API events carry the path without the stage already.
 */
export function adaptGatewayRequest(req: IncomingMessage, event: GatewayEvent): void {
  const gatewayId = gatewayRequestId(event);
  if (!isSafeRequestId(req.headers['x-request-id']) && gatewayId) req.headers['x-request-id'] = gatewayId;
  req.url = withoutStage(req.url ?? '/', event.requestContext?.stage);
}

/** API Gateway's request id, in the characters a request id may have (HTTP API ids end in `=`). */
export function gatewayRequestId(event: GatewayEvent): string | undefined {
  return toSafeRequestId(event.requestContext?.requestId);
}

function withoutStage(url: string, stage: string | undefined): string {
  if (!stage || stage === '$default') return url;
  const prefix = `/${stage}`;
  if (!url.startsWith(`${prefix}/`)) return url;
  const rest = url.slice(prefix.length);
  const isRoot = rest === '/' || rest.startsWith('/?');
  return isRoot || APP_ROOTS.some((root) => rest.startsWith(root)) ? rest : url;
}
