import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Context } from 'aws-lambda';
import pino, { type Logger } from 'pino';
import serverless from 'serverless-http';
import { bootApp } from './boot';
import { systemClock } from './clock';
import { readLambdaConfig } from './config';
import type { components } from './generated/triggers';
import { adaptGatewayRequest, type GatewayEvent, gatewayRequestId } from './lambda/gateway-request';
import { LambdaMetrics } from './lambda/metrics';
import { sourceMappedError } from './lambda/source-mapped-stack';
import { BUNDLED_REDOC_FILE, loadBundledSpec, loadSpec } from './spec';
import { openDynamoStores } from './store/dynamodb/open';

/**
 * AWS Lambda entry point (API Gateway REST API v1 or HTTP API v2 → this → DynamoDB).
 *
 * Everything is made once per container, at init: config, DynamoDB clients, the cursor
 * secret (one read, which also opens the connection to DynamoDB), the app, and — in a
 * container made ahead of traffic (provisioned concurrency) — the validator's compiled schemas
 * (warm-up). A container made on demand compiles an operation's schemas on its first request
 * instead (Config.compileValidatorsAtStart). Invocations only run requests through it.
 * A failed init (DynamoDB unreachable, say) is not kept: the next invocation tries again,
 * and meanwhile clients get a 503 in the error envelope rather than API Gateway's bare 502.
 */
type Serve = (event: GatewayEvent, context: Context) => Promise<unknown>;

const BUNDLED_REDOC = path.join(__dirname, BUNDLED_REDOC_FILE);

// Made before the config is read, so that an invalid config is logged too; start() sets its level.
const logger = pino({ base: { service: 'triggers-api' }, serializers: { err: sourceMappedError } });
let ready: Promise<Serve> | undefined = start(logger);
// Kept for the first invocation to see; without this an init failure would end the process.
ready.catch(() => undefined);

export async function handler(event: GatewayEvent, context: Context): Promise<unknown> {
  ready ??= start(logger);
  let serve: Serve;
  try {
    serve = await ready;
  } catch (error) {
    ready = undefined;
    logger.error({ err: error }, 'init failed; answering 503 and retrying init on the next request');
    return unavailable(event);
  }
  return serve(event, context);
}

async function start(log: Logger): Promise<Serve> {
  const started = performance.now();
  const config = readLambdaConfig();
  log.level = config.logLevel;
  const stores = openDynamoStores(config, systemClock);
  const metrics = new LambdaMetrics({ stage: config.stage, logger: log });
  // From source (tests, tsx) there is no bundle: the contract is read from openapi/.
  const spec = loadBundledSpec(__dirname) ?? loadSpec();
  const { app, warmUp } = await bootApp({
    config,
    stores,
    logger: log,
    spec,
    metrics,
    redocBundlePath: existsSync(BUNDLED_REDOC) ? BUNDLED_REDOC : undefined,
  }).catch(async (error: unknown) => {
    // The next invocation starts over with new clients: do not leave these sockets behind.
    await stores.close();
    throw error;
  });
  const serve = serverless(app, { requestId: '', request: adaptGatewayRequest });
  log.info(
    {
      stage: config.stage,
      auth_mode: config.authMode,
      init_ms: Math.round(performance.now() - started),
      // Where the validator's schemas are compiled: here (warm_up says how), or per operation.
      validators_compiled: warmUp ? 'at init' : "on each operation's first request",
      warm_up: warmUp,
    },
    'Triggers API ready on Lambda',
  );
  return async (event, context) => {
    try {
      return await serve(event, context);
    } finally {
      metrics.publish();
    }
  };
}

/** A Lambda proxy answer in the error envelope, for when the app could not be made. */
function unavailable(event: GatewayEvent) {
  const requestId = gatewayRequestId(event) ?? 'unknown';
  const body: components['schemas']['Error'] = {
    error: {
      code: 'UNAVAILABLE',
      message: 'The service is starting or its store is unreachable. Retry after the time in Retry-After.',
      details: {},
      request_id: requestId,
    },
  };
  return {
    statusCode: 503,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'retry-after': '1',
      'x-request-id': requestId,
    },
    isBase64Encoded: false,
    body: JSON.stringify(body),
  };
}
