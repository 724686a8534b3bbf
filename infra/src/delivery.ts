import path from 'node:path';
import { AssetHashType, DockerImage, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { readLambdaConfig } from '../../server/src/config';
import { METRICS_NAMESPACE } from '../../server/src/lambda/metrics';
import { DUE_PK_PREFIX } from '../../server/src/store/dynamodb/item-keys';
import { DUE_INDEX, SUBSCRIPTION_INDEX } from '../../server/src/store/dynamodb/tables';
import { createDeliveryRole } from './function-role';
import { bundleDeliveryLambda } from './lambda-bundle';
import type { ResourceNames } from './names';
import type { StackSettings } from './settings';
import type { Tables } from './tables';

const SERVER_SOURCE = path.resolve(__dirname, '../../server/src');

/**
 * Stream records per invocation. Within the handler's bounds (TRIGGERS_WEBHOOK_CONCURRENCY
 * 200, _PER_TARGET 20 by default) a whole batch is attempted at once, so an invocation lasts
 * about one attempt.
 */
export const STREAM_BATCH_SIZE = 20;

/**
 * The stream function's timeout: above one attempt (the 15 s POST timeout and the store calls
 * around it, ~25 s: the handler starts no attempt with less time left) with room for the
 * claims, so that Lambda never cuts an attempt off.
 */
export const STREAM_TIMEOUT = Duration.seconds(60);

/**
 * The sweep's timeout: it claims and attempts until ~25 s are left, then waits for its last
 * attempts. A sweep still running when the next minute's starts is fine (claims never overlap).
 */
export const SWEEP_TIMEOUT = Duration.seconds(60);

/**
 * What the event source mapping lets through to the stream function: INSERTs of items with a
 * `due_pk`, which only delivery records carry. (Their table key starts with the tenant, so no
 * key prefix tells them apart; Lambda's filters match prefixes only.) Everything else the
 * table writes (events, acks, leases, the log) never invokes, nor bills, the function. The
 * handler checks the same in code.
 */
export const DELIVERY_STREAM_FILTER = {
  eventName: lambda.FilterRule.isEqual('INSERT'),
  dynamodb: { NewImage: { due_pk: { S: lambda.FilterRule.beginsWith(DUE_PK_PREFIX) } } },
};

export interface DeliveryFunctions {
  stream: lambda.Function;
  sweep: lambda.Function;
  /** Where the event source mapping reports the batches it gave up on (metadata, not records). */
  streamFailures: sqs.Queue;
  schedule: events.Rule;
}

/**
 * Webhook delivery on AWS (DESIGN §11): two functions on one bundle
 * (server/src/delivery-lambda.ts), none of whose work runs on a timer of its own.
 *
 * - `stream`: the events table's stream, filtered to the INSERTs of delivery records, invokes
 *   it with up to STREAM_BATCH_SIZE of them; it makes each delivery's first attempt.
 *   Starting at LATEST: the sweep delivers whatever was written before the mapping began
 *   reading, and TRIM_HORIZON would replay up to 24 h of records on every re-creation of the
 *   mapping, each a refused claim, the older ones landing on the failure queue (past the
 *   maximum record age) and raising its alarm for nothing. A failed record is retried twice,
 *   with the batch bisected around it and only failed records reported
 *   (ReportBatchItemFailures); a record older than 10 minutes is not tried at all, since the
 *   sweep has delivered it by then. Either way the mapping reports it to `streamFailures`,
 *   and the record stays due in the table for the sweep. Parallelization 10: each shard
 *   runs up to 10 batches at once, so a slow receiver holds back only its own batch (every
 *   delivery record has its own key, so there is no order to keep).
 * - `sweep`: an EventBridge rule invokes it every minute; it makes retries, first attempts the
 *   stream did not, and takes over claims of invocations that died. Not retried when it fails
 *   (the next minute's sweep does the same work).
 */
export function createDeliveryFunctions(
  scope: Construct,
  settings: StackSettings,
  names: ResourceNames,
  tables: Tables,
): DeliveryFunctions {
  const streamArn = tables.events.tableStreamArn;
  if (streamArn === undefined) throw new Error('the events table needs its stream for webhook delivery');
  const code = bundledDelivery();
  const environment = deliveryEnvironment(settings);

  const streamFailures = new sqs.Queue(scope, 'WebhookStreamFailures', {
    queueName: names.delivery.streamFailureQueue,
    retentionPeriod: Duration.days(14),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    removalPolicy: settings.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });

  const deliveryFunction = (
    id: string,
    functionName: string,
    logGroupName: string,
    options: {
      description: string;
      handler: string;
      timeout: Duration;
      role: ReturnType<typeof createDeliveryRole>;
      retryAttempts?: number;
    },
  ) =>
    new lambda.Function(scope, id, {
      functionName,
      description: `Triggers API (${settings.stage}): ${options.description}`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: options.handler,
      code,
      memorySize: 512,
      timeout: options.timeout,
      retryAttempts: options.retryAttempts,
      environment,
      // Grants that constructs would add (the event source's, the DLQ's) are left out: the
      // role's inline policy is exactly what the function may do (function-role.ts).
      role: options.role.withoutPolicyUpdates(),
      logGroup: new logs.LogGroup(scope, `${id}Logs`, {
        logGroupName,
        retention: settings.logRetention,
        removalPolicy: settings.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      }),
    });

  const stream = deliveryFunction(
    'WebhookStreamFunction',
    names.delivery.stream,
    names.delivery.streamLogGroup,
    {
      description: 'first attempts of new webhook deliveries, from the events table stream',
      handler: 'index.streamHandler',
      timeout: STREAM_TIMEOUT,
      role: createDeliveryRole(scope, 'WebhookStreamRole', {
        functionName: names.delivery.stream,
        logGroupName: names.delivery.streamLogGroup,
        tables,
        indexes: [SUBSCRIPTION_INDEX],
        stream: { arn: streamArn, failureQueue: streamFailures },
      }),
    },
  );
  stream.addEventSource(
    new DynamoEventSource(tables.events, {
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: STREAM_BATCH_SIZE,
      parallelizationFactor: 10,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: 2,
      maxRecordAge: Duration.minutes(10),
      onFailure: new SqsDlq(streamFailures),
      filters: [lambda.FilterCriteria.filter(DELIVERY_STREAM_FILTER)],
    }),
  );

  const sweep = deliveryFunction('WebhookSweepFunction', names.delivery.sweep, names.delivery.sweepLogGroup, {
    description: 'webhook retries and missed attempts, swept every minute',
    handler: 'index.sweepHandler',
    timeout: SWEEP_TIMEOUT,
    retryAttempts: 0,
    role: createDeliveryRole(scope, 'WebhookSweepRole', {
      functionName: names.delivery.sweep,
      logGroupName: names.delivery.sweepLogGroup,
      tables,
      indexes: [DUE_INDEX, SUBSCRIPTION_INDEX],
    }),
  });
  const schedule = new events.Rule(scope, 'WebhookSweepSchedule', {
    ruleName: names.delivery.sweepRule,
    description: `Triggers API (${settings.stage}): sweep due webhook deliveries every minute`,
    schedule: events.Schedule.rate(Duration.minutes(1)),
    targets: [new targets.LambdaFunction(sweep, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
  });

  return { stream, sweep, streamFailures, schedule };
}

/**
 * The delivery functions' settings. AUTH_MODE=aws: every webhook connection must reach a public
 * address over https (the SSRF rule of DESIGN §11).
 */
function deliveryEnvironment(settings: StackSettings): Record<string, string> {
  const environment: Record<string, string> = {
    TRIGGERS_STAGE: settings.stage,
    TRIGGERS_STORE: 'dynamodb',
    AUTH_MODE: 'aws',
    LOG_LEVEL: 'info',
    POWERTOOLS_SERVICE_NAME: 'triggers-api',
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  };
  // Refuse at synth what every cold start would refuse.
  readLambdaConfig(environment);
  return environment;
}

/** The delivery bundle (lambda-bundle.ts), built locally like the API's; never with Docker. */
function bundledDelivery(): lambda.Code {
  return lambda.Code.fromAsset(SERVER_SOURCE, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs24.x'),
      // Part of CDK's cache key of staged assets, which is made of the source folder and the
      // options but not of the local bundler: without it this asset is the API's (same folder,
      // same options), and the delivery functions would deploy the API's bundle.
      environment: { TRIGGERS_BUNDLE: 'delivery-lambda' },
      local: {
        tryBundle(outputDir: string) {
          bundleDeliveryLambda(outputDir);
          return true;
        },
      },
    },
  });
}
