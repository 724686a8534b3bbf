import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../server/src/lambda/metrics';
import { AVAILABLE_INDEX, EVENTS_INDEX, INBOX_INDEX } from '../../server/src/store/dynamodb/tables';
import type { DeliveryFunctions } from './delivery';
import type { ResourceNames } from './names';
import type { StackSettings } from './settings';
import type { Tables } from './tables';

/** Every alarm looks at five-minute sums or percentiles. */
const PERIOD = Duration.minutes(5);

interface Watched {
  api: apigateway.RestApi;
  handler: lambda.Function;
  /** The provisioned-concurrency alias, when there is one. */
  live: lambda.Alias | undefined;
  tables: Tables;
  delivery: DeliveryFunctions;
}

/**
 * The alarms, all notifying one SNS topic (on alarm and on recovery). Two policies:
 * - rates and latency (the API as clients see it) alarm when 2 of the last 3 periods breach,
 *   so one bad burst does not page anyone but a problem lasting ~10 minutes does;
 * - failures that should never happen at all (function errors, throttling) alarm on the
 *   first period with any.
 * No data means no traffic, which is not a breach.
 */
export function createAlarms(
  scope: Construct,
  settings: StackSettings,
  names: ResourceNames,
  watched: Watched,
) {
  const topic = new sns.Topic(scope, 'AlarmTopic', {
    topicName: names.alarmTopic,
    displayName: `Triggers API ${settings.stage} alarms`,
  });
  if (settings.alarmEmail !== undefined) {
    topic.addSubscription(new subscriptions.EmailSubscription(settings.alarmEmail));
  }
  const notify = new actions.SnsAction(topic);
  const alarm = (id: string, what: string, props: Omit<cloudwatch.AlarmProps, 'alarmName'>) => {
    const created = new cloudwatch.Alarm(scope, id, {
      alarmName: names.alarm(what),
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    created.addAlarmAction(notify);
    created.addOkAction(notify);
    return created;
  };
  const sustained = { evaluationPeriods: 3, datapointsToAlarm: 2 };
  const onFirst = {
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
  };
  const stage = watched.api.deploymentStage;
  const logs = `log group ${names.logGroup}`;

  alarm('ServerErrorRateAlarm', '5xx-rate', {
    metric: new cloudwatch.MathExpression({
      expression: '100 * errors / requests',
      usingMetrics: {
        errors: stage.metricServerError({ period: PERIOD, statistic: 'Sum' }),
        requests: stage.metricCount({ period: PERIOD, statistic: 'Sum' }),
      },
      label: '5xx responses (% of requests)',
      period: PERIOD,
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ...sustained,
    alarmDescription:
      `More than 1% of requests to ${names.api} got a 5xx in 2 of the last 3 five-minute periods. ` +
      `Look in ${logs} for level >= 50 (error) lines and their request_id; check the Lambda ` +
      'errors/throttles and DynamoDB throttle alarms. If it began with a deploy, roll back.',
  });

  alarm('LatencyP99Alarm', 'latency-p99', {
    metric: stage.metricLatency({ period: PERIOD, statistic: 'p99' }),
    threshold: 100,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ...sustained,
    alarmDescription:
      `p99 latency of ${names.api} (API Gateway, ms) was above 100 ms in 2 of the last 3 five-minute ` +
      'periods. Compare IntegrationLatency and the function Duration: cold starts (init_ms in the ' +
      `"ready" log line of ${logs}), DynamoDB latency or throttling, or a slow route in the request logs.`,
  });

  alarm('FunctionErrorsAlarm', 'lambda-errors', {
    metric: watched.handler.metricErrors({ period: PERIOD, statistic: 'Sum' }),
    ...onFirst,
    alarmDescription:
      `${names.function} failed an invocation (crash, timeout or out of memory; handled errors ` +
      `are answered as 5xx, not counted here). Search ${logs} for "Task timed out", "Runtime." ` +
      'or "init failed"; raise timeoutSeconds/memorySize if the function ran out of either.',
  });

  alarm('FunctionThrottlesAlarm', 'lambda-throttles', {
    metric: watched.handler.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
    ...onFirst,
    alarmDescription:
      `Lambda refused to run ${names.function} (no concurrency left): those requests failed. Check ` +
      'ConcurrentExecutions against the reserved concurrency (context reservedConcurrency) and ' +
      'the account limit; raise one, or lower the API stage throttling (throttleRate/throttleBurst).',
  });

  if (watched.live !== undefined) {
    alarm('ProvisionedSpilloverAlarm', 'provisioned-spillover', {
      metric: watched.live.metric('ProvisionedConcurrencySpilloverInvocations', {
        period: PERIOD,
        statistic: 'Sum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...sustained,
      alarmDescription:
        `Requests to ${names.function}:live went beyond its ${settings.provisionedConcurrency} provisioned ` +
        'containers in 2 of the last 3 five-minute periods: those waited for a cold start (about 1 s, ' +
        'see the latency alarm). Compare ProvisionedConcurrencyUtilization; raise context ' +
        'provisionedConcurrency if the traffic is the new normal.',
    });
  }

  const tables = [
    {
      id: 'EventsTableThrottlesAlarm',
      what: 'events-table-throttles',
      table: watched.tables.events,
      name: names.tables.events,
      indexes: [INBOX_INDEX, AVAILABLE_INDEX, EVENTS_INDEX],
    },
    {
      id: 'KeysTableThrottlesAlarm',
      what: 'keys-table-throttles',
      table: watched.tables.keys,
      name: names.tables.keys,
      indexes: [],
    },
  ];
  for (const { id, what, table, name, indexes } of tables) {
    alarm(id, what, {
      metric: throttleEvents(table, indexes),
      ...onFirst,
      alarmDescription:
        `DynamoDB throttled reads or writes on ${name}${indexes.length > 0 ? ' or its indexes' : ''} ` +
        '(on-demand tables throttle on hot partitions or traffic above twice the previous peak). ' +
        'The SDK retries, so clients may only see latency; if it persists, look for one tenant ' +
        'flooding (the indexes are keyed by tenant) in the request logs.',
    });
  }

  const { delivery } = watched;
  alarm('WebhookDeliveriesFailedAlarm', 'webhook-deliveries-failed', {
    metric: new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: 'WebhookDeliveriesFailed',
      // The dimensions the delivery functions' EMF lines carry (server/src/lambda/metrics.ts).
      dimensionsMap: { service: 'triggers-api', stage: settings.stage },
      period: PERIOD,
      statistic: 'Sum',
    }),
    ...onFirst,
    alarmDescription:
      'A webhook delivery failed for good: its retry schedule ran out, or its target answered 410 ' +
      '(which disables the subscription). These are the dead letters: each is in its ' +
      "subscription's log (GET /v1/subscriptions/{id}/deliveries, outcome failed, with the status " +
      `and error), and logged as "webhook delivery failed for good" in ${names.delivery.streamLogGroup} ` +
      `or ${names.delivery.sweepLogGroup}. Tell the subscriber; POST the event again if it matters.`,
  });

  alarm('WebhookStreamFailuresAlarm', 'webhook-stream-failures', {
    metric: delivery.streamFailures.metricApproximateNumberOfMessagesVisible({
      period: PERIOD,
      statistic: 'Maximum',
    }),
    ...onFirst,
    alarmDescription:
      `The events stream's mapping gave up on records for ${names.delivery.stream} (retries spent, or ` +
      'older than 10 minutes) and reported them to the queue ' +
      `${names.delivery.streamFailureQueue}. Nothing is lost: the deliveries stay due in the table ` +
      'and the sweep makes them. Look at the stream function errors and DynamoDB throttling; the ' +
      'messages name the shard and sequence numbers. Purge the queue once understood.',
  });

  const deliveryFunctions = [
    ['WebhookStreamErrorsAlarm', 'webhook-stream-errors', delivery.stream, names.delivery.stream],
    ['WebhookSweepErrorsAlarm', 'webhook-sweep-errors', delivery.sweep, names.delivery.sweep],
  ] as const;
  for (const [id, what, fn, functionName] of deliveryFunctions) {
    alarm(id, what, {
      metric: fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
      ...onFirst,
      alarmDescription:
        `${functionName} failed an invocation: a crash, a timeout, a failed init, or (the sweep) a ` +
        'store error while claiming or recording attempts. Search its log group ' +
        `/aws/lambda/${functionName} for level >= 40 lines, "Task timed out" or "init failed". ` +
        'Deliveries are not lost (their claims run out and a later sweep makes them), only late.',
    });
  }

  return topic;
}

/** Read and write throttle events of a table and of its indexes, summed (missing data as 0). */
function throttleEvents(table: dynamodb.Table, indexes: readonly string[]): cloudwatch.IMetric {
  const usingMetrics: Record<string, cloudwatch.IMetric> = {};
  const scopes = [{}, ...indexes.map((index) => ({ GlobalSecondaryIndexName: index }))];
  scopes.forEach((dimensions, i) => {
    for (const kind of ['Read', 'Write']) {
      usingMetrics[`${kind.toLowerCase()}${i}`] = table.metric(`${kind}ThrottleEvents`, {
        dimensionsMap: { TableName: table.tableName, ...dimensions },
        period: PERIOD,
        statistic: 'Sum',
      });
    }
  });
  return new cloudwatch.MathExpression({
    // A series can have no data for a period (nothing throttled, an idle index): FILL counts it
    // as 0, so that it cannot drop that period from the sum of the others.
    expression: Object.keys(usingMetrics)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics,
    label: 'Throttle events (read + write, table and indexes)',
    period: PERIOD,
  });
}
