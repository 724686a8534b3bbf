import type { DynamoDBStreamEvent } from 'aws-lambda';
import pino from 'pino';
import { systemClock } from './clock';
import { readLambdaConfig } from './config';
import { LambdaDeliveryMetrics } from './lambda/metrics';
import { sourceMappedError } from './lambda/source-mapped-stack';
import { openDynamoStores } from './store/dynamodb/open';
import { loadBundledVersion } from './version';
import { createDeliveryRuntime, type DeliveryContext } from './webhooks/aws/runtime';
import { createStreamHandler, type StreamHandler } from './webhooks/aws/stream-handler';
import { createSweepHandler, type SweepHandler } from './webhooks/aws/sweep-handler';

/**
 * AWS Lambda entry points of webhook delivery (DESIGN §11, "on AWS"), one bundle for two
 * functions: `streamHandler` (the events table's stream → first attempts) and `sweepHandler`
 * (an EventBridge schedule → retries and whatever the stream did not do). Neither runs a
 * timer: each invocation does its work and returns. The API function never delivers.
 *
 * Made once per container, at init: config (AUTH_MODE is aws unless set otherwise, so every
 * webhook connection is checked for a public address), DynamoDB clients, the poster and its
 * keep-alive connections. A failed init is not kept: the next invocation tries again, and
 * this one throws, so Lambda retries its records (stream) or the next minute's sweep does.
 */
interface Handlers {
  stream: StreamHandler;
  sweep: SweepHandler;
}

const logger = pino({ base: { service: 'triggers-api-webhooks' }, serializers: { err: sourceMappedError } });
let ready: Promise<Handlers> | undefined = start();
// Kept for the first invocation to see; without this an init failure would end the process.
ready.catch(() => undefined);

async function handlers(): Promise<Handlers> {
  ready ??= start();
  try {
    return await ready;
  } catch (error) {
    ready = undefined;
    logger.error({ err: error }, 'init failed; retrying init on the next invocation');
    throw error;
  }
}

async function start(): Promise<Handlers> {
  const config = readLambdaConfig();
  logger.level = config.logLevel;
  const stores = openDynamoStores(config, systemClock);
  const runtime = createDeliveryRuntime({
    config,
    stores,
    clock: systemClock,
    logger,
    metrics: new LambdaDeliveryMetrics({ stage: config.stage, logger }),
    // Run from source (never, but for a look with tsx) there is no bundle and no version file.
    version: loadBundledVersion(__dirname) ?? 'unbundled',
    guardMode: config.authMode,
  });
  logger.info(
    { stage: config.stage, auth_mode: config.authMode },
    'Triggers API webhook delivery ready on Lambda',
  );
  return { stream: createStreamHandler(runtime), sweep: createSweepHandler(runtime) };
}

export async function streamHandler(event: DynamoDBStreamEvent, context: DeliveryContext) {
  return (await handlers()).stream(event, context);
}

export async function sweepHandler(event: unknown, context: DeliveryContext) {
  return (await handlers()).sweep(event, context);
}
