import { randomUUID } from 'node:crypto';

/** What a test says about a request; the builders dress it as API Gateway would. */
export interface RequestSpec {
  method: string;
  /** Path and query string as the client sent them, without any stage: `/v1/inbox?limit=2`. */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body base64-encoded, as API Gateway does for binary media types. */
  base64?: boolean;
  /** The API Gateway request id; a fresh one when absent. */
  gatewayRequestId?: string;
  /** The caller's address as API Gateway saw it (`sourceIp`). */
  sourceIp?: string;
}

const DEFAULT_SOURCE_IP = '198.51.100.7';

const ACCOUNT = '123456789012';
const API_ID = 'a1b2c3d4e5';

function split(url: string): { path: string; query: URLSearchParams } {
  const parsed = new URL(url, 'https://example.invalid');
  return { path: parsed.pathname, query: parsed.searchParams };
}

function encodedBody(spec: RequestSpec): { body: string | null; isBase64Encoded: boolean } {
  if (spec.body === undefined) return { body: null, isBase64Encoded: false };
  return spec.base64
    ? { body: Buffer.from(spec.body, 'utf8').toString('base64'), isBase64Encoded: true }
    : { body: spec.body, isBase64Encoded: false };
}

/**
 * A REST API (payload 1.0) proxy event for the `/v1/{proxy+}` resource of stage `stage`, as
 * API Gateway sends it: `path` without the stage, `requestContext.path` with it, headers as
 * sent plus the ones API Gateway adds, single- and multi-value maps.
 */
export function restApiEvent(spec: RequestSpec, stage = 'prod') {
  const { path, query } = split(spec.url);
  const sourceIp = spec.sourceIp ?? DEFAULT_SOURCE_IP;
  const headers: Record<string, string> = {
    Host: `${API_ID}.execute-api.us-east-1.amazonaws.com`,
    'User-Agent': 'curl/8.5.0',
    'X-Amzn-Trace-Id': 'Root=1-5e66d96f-7491f09xmpl79d18acf3d050',
    'X-Forwarded-For': sourceIp,
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    ...spec.headers,
  };
  const queryStringParameters = query.size > 0 ? Object.fromEntries(query) : null;
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [name, value] of query) {
    multiValueQueryStringParameters[name] = [...(multiValueQueryStringParameters[name] ?? []), value];
  }
  const rootResource = path.startsWith('/v1/') ? '/v1/{proxy+}' : path;
  const requestId = spec.gatewayRequestId ?? randomUUID();
  return {
    resource: rootResource,
    path,
    httpMethod: spec.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters,
    multiValueQueryStringParameters: query.size > 0 ? multiValueQueryStringParameters : null,
    pathParameters: path.startsWith('/v1/') ? { proxy: path.slice('/v1/'.length) } : null,
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: API_ID,
      domainName: `${API_ID}.execute-api.us-east-1.amazonaws.com`,
      domainPrefix: API_ID,
      extendedRequestId: 'JJbxmHsoIAMFVfQ=',
      httpMethod: spec.method,
      identity: {
        sourceIp,
        userAgent: 'curl/8.5.0',
        accountId: null,
        caller: null,
        user: null,
      },
      path: `/${stage}${path}`,
      protocol: 'HTTP/1.1',
      requestId,
      requestTime: '27/Nov/2026:19:20:00 +0000',
      requestTimeEpoch: Date.now(),
      resourceId: 'abc123',
      resourcePath: rootResource,
      stage,
    },
    ...encodedBody(spec),
  };
}

/**
 * An HTTP API (payload 2.0) event. On the `$default` stage the path has no prefix; on a
 * named stage `rawPath` starts with it (`/prod/v1/events`), which the handler must take off.
 */
export function httpApiEvent(spec: RequestSpec, stage = '$default') {
  const { path, query } = split(spec.url);
  const rawPath = stage === '$default' ? path : `/${stage}${path}`;
  const sourceIp = spec.sourceIp ?? DEFAULT_SOURCE_IP;
  const headers: Record<string, string> = {
    host: `${API_ID}.execute-api.us-east-1.amazonaws.com`,
    'user-agent': 'curl/8.5.0',
    'x-amzn-trace-id': 'Root=1-5e66d96f-7491f09xmpl79d18acf3d050',
    'x-forwarded-for': sourceIp,
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
    ...Object.fromEntries(
      Object.entries(spec.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    ),
  };
  const { body, isBase64Encoded } = encodedBody(spec);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: query.toString(),
    headers,
    ...(query.size > 0 ? { queryStringParameters: Object.fromEntries(query) } : {}),
    requestContext: {
      accountId: ACCOUNT,
      apiId: API_ID,
      domainName: `${API_ID}.execute-api.us-east-1.amazonaws.com`,
      domainPrefix: API_ID,
      http: {
        method: spec.method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp,
        userAgent: 'curl/8.5.0',
      },
      // HTTP API request ids are base64-like and end in `=`.
      requestId: spec.gatewayRequestId ?? 'JKJaXmPLvHcESHA=',
      routeKey: '$default',
      stage,
      time: '27/Nov/2026:19:20:00 +0000',
      timeEpoch: Date.now(),
    },
    ...(body === null ? {} : { body }),
    isBase64Encoded,
  };
}
