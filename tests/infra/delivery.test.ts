import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import {
  asList,
  flatten,
  functionNamed,
  getAtt,
  only,
  type Resource,
  roleOf,
  type Statement,
  statementsOf,
  synthStack,
} from './template';

/**
 * Webhook delivery in the stack (infra/src/delivery.ts, DESIGN §11 "on AWS"): the stream
 * function on the events table's stream, the sweep on a schedule, their roles, logs, failure
 * queue and alarms, asserted on the synthesized template.
 */
let workDir: string;
let template: Template;
let eventsTable: string;
let keysTable: string;
let stream: [string, Resource];
let sweep: [string, Resource];
let queue: string;

beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'triggers-infra-delivery-'));
  template = synthStack(workDir, {});
  eventsTable = only(template, 'AWS::DynamoDB::Table', { TableName: 'triggers-api-events-dev' })[0];
  keysTable = only(template, 'AWS::DynamoDB::Table', { TableName: 'triggers-api-keys-dev' })[0];
  stream = functionNamed(template, 'triggers-api-dev-webhook-stream');
  sweep = functionNamed(template, 'triggers-api-dev-webhook-sweep');
  queue = only(template, 'AWS::SQS::Queue')[0];
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

const streamArn = () => ({ 'Fn::GetAtt': [eventsTable, 'StreamArn'] });
const indexArn = (index: string) => ({ 'Fn::Join': ['', [getAtt(eventsTable), `/index/${index}`]] });

describe('the delivery functions', () => {
  it('run the two handlers of one bundle on Node.js 24 on arm64, 512 MB, 60 s', () => {
    const [, streamFn] = stream;
    const [, sweepFn] = sweep;
    for (const [fn, handler] of [
      [streamFn, 'index.streamHandler'],
      [sweepFn, 'index.sweepHandler'],
    ] as const) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: handler,
        MemorySize: 512,
        // Above one attempt (15 s POST timeout and the store calls around it, ~25 s).
        Timeout: 60,
      });
      expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    }
    // One asset for both (which bundle it is: stack.test.ts, with real bundling).
    expect(streamFn.Properties.Code).toEqual(sweepFn.Properties.Code);
  });

  it('run with AUTH_MODE=aws, so every webhook connection must reach a public https address', () => {
    for (const [, fn] of [stream, sweep]) {
      expect(fn.Properties.Environment.Variables).toEqual({
        TRIGGERS_STAGE: 'dev',
        TRIGGERS_STORE: 'dynamodb',
        AUTH_MODE: 'aws',
        LOG_LEVEL: 'info',
        POWERTOOLS_SERVICE_NAME: 'triggers-api',
        POWERTOOLS_METRICS_NAMESPACE: 'TriggersApi',
      });
    }
  });

  it('log each to its own log group, kept one month and deleted with a dev stack', () => {
    for (const [name, [, fn]] of [
      ['triggers-api-dev-webhook-stream', stream],
      ['triggers-api-dev-webhook-sweep', sweep],
    ] as const) {
      const [logGroup, resource] = only(template, 'AWS::Logs::LogGroup', {
        LogGroupName: `/aws/lambda/${name}`,
      });
      expect(resource.Properties.RetentionInDays).toBe(30);
      expect(resource.DeletionPolicy).toBe('Delete');
      expect(fn.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logGroup } });
    }
  });
});

describe('the events stream to the stream function', () => {
  let mapping: Resource;
  beforeAll(() => {
    [, mapping] = only(template, 'AWS::Lambda::EventSourceMapping');
  });

  it('reads the events table stream from LATEST in batches of 20, 10 at once per shard', () => {
    expect(mapping.Properties).toMatchObject({
      EventSourceArn: streamArn(),
      FunctionName: { Ref: stream[0] },
      StartingPosition: 'LATEST',
      BatchSize: 20,
      ParallelizationFactor: 10,
    });
    // No batching window: a first attempt waits for nothing.
    expect(mapping.Properties).not.toHaveProperty('MaximumBatchingWindowInSeconds');
  });

  it('retries failed records twice, bisecting, from the first failed record on, for 10 minutes at most', () => {
    expect(mapping.Properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 2,
      MaximumRecordAgeInSeconds: 600,
    });
  });

  it('reports what it gives up on to the failure queue', () => {
    expect(mapping.Properties.DestinationConfig).toEqual({
      OnFailure: { Destination: getAtt(queue) },
    });
  });

  it('invokes the function only for INSERTs of items with a due_pk (delivery records)', () => {
    expect(mapping.Properties.FilterCriteria.Filters).toHaveLength(1);
    expect(JSON.parse(mapping.Properties.FilterCriteria.Filters[0].Pattern)).toEqual({
      eventName: ['INSERT'],
      dynamodb: { NewImage: { due_pk: { S: [{ prefix: 'due#' }] } } },
    });
  });

  it('keeps the failure queue 14 days, encrypted, reachable over TLS only', () => {
    const [, resource] = only(template, 'AWS::SQS::Queue');
    expect(resource.Properties).toMatchObject({
      QueueName: 'triggers-api-dev-webhook-stream-failures',
      MessageRetentionPeriod: 14 * 24 * 60 * 60,
      SqsManagedSseEnabled: true,
    });
    const [, policy] = only(template, 'AWS::SQS::QueuePolicy');
    expect(policy.Properties.Queues).toEqual([{ Ref: queue }]);
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'sqs:*',
        Resource: getAtt(queue),
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
  });
});

describe('the sweep schedule', () => {
  it('invokes the sweep every minute, and neither EventBridge nor Lambda retries a sweep', () => {
    const [rule, resource] = only(template, 'AWS::Events::Rule');
    expect(resource.Properties).toMatchObject({
      Name: 'triggers-api-dev-webhook-sweep',
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: getAtt(sweep[0]),
          Id: 'Target0',
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        },
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: sweep[0] },
      MaximumRetryAttempts: 0,
    });
    // Only that rule may invoke the sweep; nothing may invoke the stream function but its mapping.
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission', {
        Properties: { Principal: 'events.amazonaws.com' },
      }) as Record<string, Resource>,
    );
    expect(permissions.map((permission) => permission.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: getAtt(sweep[0]),
        Principal: 'events.amazonaws.com',
        SourceArn: getAtt(rule),
      },
    ]);
    const onStream = Object.values(
      template.findResources('AWS::Lambda::Permission') as Record<string, Resource>,
    ).filter((permission) => JSON.stringify(permission.Properties.FunctionName).includes(stream[0]));
    expect(onStream).toEqual([]);
  });
});

describe('the delivery roles', () => {
  const roleStatements = (fn: [string, Resource]) => {
    const [id, role] = roleOf(template, fn[1]);
    return { id, role, statements: statementsOf(role) };
  };

  it('are their own roles, assumable only by Lambda, with no managed policy and no policy besides their own', () => {
    const roles = new Set(
      [stream, sweep, functionNamed(template, 'triggers-api-dev')].map(([, fn]) => roleOf(template, fn)[0]),
    );
    expect(roles.size).toBe(3);
    for (const fn of [stream, sweep]) {
      const { role } = roleStatements(fn);
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
      expect(role.Properties).not.toHaveProperty('ManagedPolicyArns');
    }
    // The event source's and the queue's own grants (ListStreams on `*`, ...) are not added.
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  it.each([
    ['stream', () => stream, ['subscription']],
    ['sweep', () => sweep, ['due', 'subscription']],
  ] as const)(
    'give the %s function the item calls of an attempt on the events table, and Query on %j only',
    (_name, fn, indexes) => {
      const { statements } = roleStatements(fn());
      const bySid = (sid: string) => statements.find((statement) => statement.Sid === sid) as Statement;
      expect(bySid('ReadWriteEvents')).toEqual({
        Sid: 'ReadWriteEvents',
        Effect: 'Allow',
        Action: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchGetItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:ConditionCheckItem',
        ],
        Resource: getAtt(eventsTable),
      });
      expect(bySid('QueryIndexes')).toEqual({
        Sid: 'QueryIndexes',
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: indexes.length === 1 ? indexArn(indexes[0] as string) : indexes.map(indexArn),
      });
      expect(JSON.stringify(statements)).not.toContain(keysTable);
      expect(statements.flatMap((statement) => asList(statement.Action))).not.toContain('dynamodb:Scan');
    },
  );

  it('let the stream function read its stream, on the stream ARN only, and send to its failure queue only', () => {
    const { statements } = roleStatements(stream);
    const common = ['WriteOwnLogs', 'ReadWriteEvents', 'QueryIndexes'];
    expect(statements.filter((statement) => !common.includes(statement.Sid as string))).toEqual([
      {
        Sid: 'ReadEventsStream',
        Effect: 'Allow',
        Action: [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
        ],
        Resource: streamArn(),
      },
      { Sid: 'SendStreamFailures', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: getAtt(queue) },
    ]);
    const sweepActions = roleStatements(sweep).statements.flatMap((statement) => asList(statement.Action));
    expect(
      sweepActions.filter((action) => /^dynamodb:.*(Stream|Records|ShardIterator)|^sqs:/.test(action)),
    ).toEqual([]);
  });

  it.each([
    ['stream', () => stream, 'triggers-api-dev-webhook-stream', 5],
    ['sweep', () => sweep, 'triggers-api-dev-webhook-sweep', 3],
  ] as const)(
    "let the %s function write only to its own log group's streams, and nothing else",
    (_name, fn, name, count) => {
      const { statements } = roleStatements(fn());
      expect(statements).toHaveLength(count);
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        expect(statement.Condition).toBeUndefined();
      }
      const logs = statements.filter((statement) => statement.Sid === 'WriteOwnLogs');
      expect(logs).toHaveLength(1);
      expect(asList(logs[0]?.Action)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(flatten(logs[0]?.Resource)).toBe(
        `arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/${name}:*`,
      );
      const actions = statements.flatMap((statement) => asList(statement.Action));
      expect(actions.filter((action) => action.includes('*'))).toEqual([]);
      const resources = statements.flatMap((statement) => asList(statement.Resource)).map(flatten);
      expect(resources.filter((resource) => resource.includes('*'))).toEqual([
        expect.stringMatching(new RegExp(`:log-group:/aws/lambda/${name}:\\*$`)),
      ]);
    },
  );
});

describe('the delivery alarms', () => {
  const [topicRef] = [() => ({ Ref: only(template, 'AWS::SNS::Topic')[0] })];
  const alarm = (name: string): Resource =>
    only(template, 'AWS::CloudWatch::Alarm', { AlarmName: name })[1].Properties;
  const onFirst = {
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    EvaluationPeriods: 1,
    Period: 300,
    TreatMissingData: 'notBreaching',
  };

  it('alarm on any webhook delivery failed for good (the dead letters), from the EMF metric', () => {
    const props = alarm('triggers-api-dev-webhook-deliveries-failed');
    expect(props).toMatchObject({
      ...onFirst,
      Namespace: 'TriggersApi',
      MetricName: 'WebhookDeliveriesFailed',
      // What the delivery functions' EMF lines carry (server/src/lambda/metrics.ts).
      Dimensions: [
        { Name: 'service', Value: 'triggers-api' },
        { Name: 'stage', Value: 'dev' },
      ],
      Statistic: 'Sum',
      AlarmActions: [topicRef()],
      OKActions: [topicRef()],
    });
    expect(props.AlarmDescription).toContain('/v1/subscriptions/{id}/deliveries');
  });

  it('alarm on any message in the failure queue', () => {
    expect(alarm('triggers-api-dev-webhook-stream-failures')).toMatchObject({
      ...onFirst,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Statistic: 'Maximum',
      AlarmActions: [topicRef()],
    });
  });

  it.each([
    ['triggers-api-dev-webhook-stream-errors', () => stream[0]],
    ['triggers-api-dev-webhook-sweep-errors', () => sweep[0]],
  ])('alarm %s on the first five minutes with any error of the function', (name, fn) => {
    expect(alarm(name)).toMatchObject({
      ...onFirst,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn() } }],
      Statistic: 'Sum',
      AlarmActions: [topicRef()],
    });
  });
});

describe('the delivery resources for prod', () => {
  it('keep the failure queue and the log groups if the stack goes, and keep logs as long as asked', () => {
    const prod = synthStack(workDir, { stage: 'prod', logRetentionDays: '90' });
    const [, queueResource] = only(prod, 'AWS::SQS::Queue', {
      QueueName: 'triggers-api-prod-webhook-stream-failures',
    });
    expect(queueResource.DeletionPolicy).toBe('Retain');
    for (const name of ['triggers-api-prod-webhook-stream', 'triggers-api-prod-webhook-sweep']) {
      functionNamed(prod, name);
      const [, logGroup] = only(prod, 'AWS::Logs::LogGroup', { LogGroupName: `/aws/lambda/${name}` });
      expect(logGroup.DeletionPolicy).toBe('Retain');
      expect(logGroup.Properties.RetentionInDays).toBe(90);
    }
    only(prod, 'AWS::Events::Rule', { Name: 'triggers-api-prod-webhook-sweep' });
  });
});
