import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { bundleDeliveryLambda, bundleLambda } from '../../infra/src/lambda-bundle';
import { CONTEXT_KEYS } from '../../infra/src/settings';
import { createTriggersStack } from '../../infra/src/triggers-stack';
import { eventsTableDefinition, keysTableDefinition } from '../../server/src/store/dynamodb/tables';
import {
  asList,
  flatten,
  functionNamed,
  getAtt,
  newApp,
  only,
  type Resource,
  roleOf,
  synthStack,
} from './template';

/**
 * The CDK stack, asserted on its synthesized CloudFormation template. Offline: bundling is
 * skipped (`aws:cdk:bundling-stacks: []`) except in the one test that checks the real asset.
 * Context values are given as strings, the way `cdk -c key=value` passes them.
 */

let workDir: string;
beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'triggers-infra-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

const appWith = (context: Record<string, unknown>, options: { bundle?: boolean } = {}) =>
  newApp(workDir, context, options);
const synth = (context: Record<string, unknown>) => synthStack(workDir, context);

describe('TriggersStack with the default context (stage dev)', () => {
  let template: Template;
  let eventsTable: string;
  let keysTable: string;
  let fn: string;
  let statements: Array<{
    Effect: string;
    Action: string | string[];
    Resource: unknown;
    Condition?: unknown;
  }>;

  beforeAll(() => {
    template = synth({});
    eventsTable = only(template, 'AWS::DynamoDB::Table', { TableName: 'triggers-api-events-dev' })[0];
    keysTable = only(template, 'AWS::DynamoDB::Table', { TableName: 'triggers-api-keys-dev' })[0];
    const [fnId, fnResource] = functionNamed(template, 'triggers-api-dev');
    fn = fnId;
    const [, role] = roleOf(template, fnResource);
    statements = role.Properties.Policies.flatMap(
      (policy: { PolicyDocument: { Statement: unknown[] } }) => policy.PolicyDocument.Statement,
    );
  });

  describe('tables', () => {
    it('keys the events table by pk with indexes projecting what their queries read, and a stream', () => {
      const index = (name: string, pk: string, sk: string, NonKeyAttributes: string[]) => ({
        IndexName: name,
        KeySchema: [
          { AttributeName: pk, KeyType: 'HASH' },
          { AttributeName: sk, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes },
      });
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: 'triggers-api-events-dev',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: Match.arrayEquals(
          [
            'pk',
            'inbox_pk',
            'inbox_sk',
            'available_pk',
            'available_sk',
            'events_pk',
            'events_sk',
            'due_pk',
            'due_sk',
            'subscription_pk',
            'subscription_sk',
          ].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
        ),
        GlobalSecondaryIndexes: Match.arrayEquals([
          // GET /v1/inbox: pending events by created_at; available_at to skip leased ones.
          index('inbox', 'inbox_pk', 'inbox_sk', [
            'source',
            'event_type',
            'priority',
            'expires_at',
            'available_at',
          ]),
          // Leases: pending events by available_at, with what a lease decides on.
          index('available', 'available_pk', 'available_sk', [
            'source',
            'event_type',
            'priority',
            'expires_at',
            'lease_id',
            'delivery_count',
          ]),
          // GET /v1/events: every event by created_at, with its filters.
          index('events', 'events_pk', 'events_sk', ['status', 'source', 'event_type', 'expires_at']),
          // Webhook claims: delivery records by due time, over a few shards.
          index('due', 'due_pk', 'due_sk', ['subscription_id', 'claim_id', 'next_attempt_at']),
          // A subscription's log (newest first) and its delivery records.
          index('subscription', 'subscription_pk', 'subscription_sk', [
            'event_id',
            'attempt',
            'attempted_at',
            'status_code',
            'duration_ms',
            'error',
            'outcome',
            'retry_at',
            'expires_at',
          ]),
        ]),
        // New delivery records trigger their first attempt.
        StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      });
    });

    it('keys the keys table by key_hash with no index', () => {
      const [, table] = only(template, 'AWS::DynamoDB::Table', { TableName: 'triggers-api-keys-dev' });
      expect(table.Properties.KeySchema).toEqual([{ AttributeName: 'key_hash', KeyType: 'HASH' }]);
      expect(table.Properties.AttributeDefinitions).toEqual([
        { AttributeName: 'key_hash', AttributeType: 'S' },
      ]);
      expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
      expect(table.Properties.StreamSpecification).toBeUndefined();
    });

    it.each(['triggers-api-events-dev', 'triggers-api-keys-dev'])(
      'bills %s on demand with TTL on ttl and point-in-time recovery',
      (TableName) => {
        template.hasResourceProperties('AWS::DynamoDB::Table', {
          TableName,
          BillingMode: 'PAY_PER_REQUEST',
          TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        });
      },
    );

    it('lets a dev stage delete its tables: no deletion protection, DeletionPolicy Delete', () => {
      for (const id of [eventsTable, keysTable]) {
        const table = template.toJSON().Resources[id] as Resource;
        expect(table.Properties.DeletionProtectionEnabled).toBe(false);
        expect(table.DeletionPolicy).toBe('Delete');
        expect(table.UpdateReplacePolicy).toBe('Delete');
      }
    });

    it('declares both tables exactly as the server creates them, so they cannot drift', () => {
      const byName = (a: { AttributeName?: string }, b: { AttributeName?: string }) =>
        String(a.AttributeName).localeCompare(String(b.AttributeName));
      for (const definition of [
        eventsTableDefinition('triggers-api-events-dev'),
        keysTableDefinition('triggers-api-keys-dev'),
      ]) {
        const [, table] = only(template, 'AWS::DynamoDB::Table', { TableName: definition.TableName });
        expect(table.Properties.KeySchema).toEqual(definition.KeySchema);
        expect([...table.Properties.AttributeDefinitions].sort(byName)).toEqual(
          [...(definition.AttributeDefinitions ?? [])].sort(byName),
        );
        expect(table.Properties.GlobalSecondaryIndexes).toEqual(definition.GlobalSecondaryIndexes);
        expect(table.Properties.StreamSpecification?.StreamViewType).toBe(
          definition.StreamSpecification?.StreamViewType,
        );
        expect(table.Properties.BillingMode).toBe(definition.BillingMode);
      }
    });
  });

  describe('function', () => {
    it('runs the bundled handler on Node.js 24 on arm64 with the default memory and timeout', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: 'triggers-api-dev',
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 1024,
        // Longer than the longest long poll (wait 20 s), shorter than API Gateway's 29 s.
        Timeout: 25,
      });
    });

    it('provisions no concurrency unless told to: API Gateway invokes the function itself, no alias or version', () => {
      template.resourceCountIs('AWS::Lambda::Alias', 0);
      template.resourceCountIs('AWS::Lambda::Version', 0);
      // And so no spill-over alarm: the ten alarms below are all there is.
      expect(JSON.stringify(template.toJSON())).not.toContain('ProvisionedConcurrency');
    });

    it('reserves no concurrency unless told to', () => {
      const [, fnResource] = functionNamed(template, 'triggers-api-dev');
      expect(fnResource.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    });

    it('sets exactly the environment the server reads on Lambda', () => {
      const [, fnResource] = functionNamed(template, 'triggers-api-dev');
      expect(fnResource.Properties.Environment.Variables).toEqual({
        TRIGGERS_STAGE: 'dev',
        TRIGGERS_STORE: 'dynamodb',
        AUTH_MODE: 'aws',
        LOG_LEVEL: 'info',
        POWERTOOLS_SERVICE_NAME: 'triggers-api',
        POWERTOOLS_METRICS_NAMESPACE: 'TriggersApi',
      });
    });

    it('logs to its own log group, kept one month and deleted with a dev stack', () => {
      const [logGroup, resource] = only(template, 'AWS::Logs::LogGroup', {
        LogGroupName: '/aws/lambda/triggers-api-dev',
      });
      expect(resource.Properties.RetentionInDays).toBe(30);
      expect(resource.DeletionPolicy).toBe('Delete');
      template.hasResourceProperties('AWS::Lambda::Function', {
        LoggingConfig: { LogGroup: { Ref: logGroup } },
      });
    });
  });

  describe('permissions', () => {
    it('gives the function its own role, assumable only by Lambda, with no managed policy', () => {
      const [role, resource] = roleOf(template, functionNamed(template, 'triggers-api-dev')[1]);
      expect(resource.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
      expect(resource.Properties).not.toHaveProperty('ManagedPolicyArns');
      template.resourceCountIs('AWS::IAM::Policy', 0);
      template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
      template.hasResourceProperties('AWS::Lambda::Function', { Role: getAtt(role) });
    });

    it('grants the function only GetItem on the keys table', () => {
      const onKeys = statements.filter((statement) => JSON.stringify(statement.Resource).includes(keysTable));
      expect(onKeys).toEqual([
        { Sid: 'ReadKeys', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: getAtt(keysTable) },
      ]);
    });

    it('grants the item calls the store makes on the events table ARN exactly', () => {
      const onEvents = statements.filter(
        (statement) => JSON.stringify(statement.Resource) === JSON.stringify(getAtt(eventsTable)),
      );
      expect(onEvents).toHaveLength(1);
      expect(asList(onEvents[0]?.Action).sort()).toEqual(
        [
          'dynamodb:BatchGetItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
        ].sort(),
      );
    });

    it('grants Query only, and only on the indexes the API reads (never on the table: no Scan-like reads)', () => {
      const queries = statements.filter((statement) => asList(statement.Action).includes('dynamodb:Query'));
      expect(queries).toEqual([
        {
          Sid: 'QueryIndexes',
          Effect: 'Allow',
          Action: 'dynamodb:Query',
          // `due` is the deliverer's: the API never claims deliveries.
          Resource: ['inbox', 'available', 'events', 'subscription'].map((index) => ({
            'Fn::Join': ['', [getAtt(eventsTable), `/index/${index}`]],
          })),
        },
      ]);
      const actions = statements.flatMap((statement) => asList(statement.Action));
      expect(actions).not.toContain('dynamodb:Scan');
    });

    it("lets the function write only to its own log group's streams", () => {
      const logs = statements.filter((statement) =>
        asList(statement.Action).some((a) => a.startsWith('logs:')),
      );
      expect(logs).toHaveLength(1);
      expect(asList(logs[0]?.Action).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(flatten(logs[0]?.Resource)).toBe(
        'arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/triggers-api-dev:*',
      );
    });

    it('grants nothing else: four unconditional Allow statements', () => {
      expect(statements).toHaveLength(4);
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        expect(statement.Condition).toBeUndefined();
      }
    });

    it("uses no wildcard action, and no wildcard resource but its own log group's streams", () => {
      const actions = statements.flatMap((statement) => asList(statement.Action));
      expect(actions.filter((action) => action.includes('*'))).toEqual([]);
      const resources = statements.flatMap((statement) => asList(statement.Resource)).map(flatten);
      expect(resources).not.toContain('*');
      expect(resources.filter((resource) => resource.includes('*'))).toEqual([
        expect.stringMatching(/:log-group:\/aws\/lambda\/triggers-api-dev:\*$/),
      ]);
    });
  });

  describe('API', () => {
    /** `METHOD /path` for every method, the path rebuilt from the resources' parents. */
    function routes(): string[] {
      const resources = template.findResources('AWS::ApiGateway::Resource') as Record<string, Resource>;
      const pathOf = (id: string | undefined): string => {
        const resource = id === undefined ? undefined : resources[id];
        if (!resource) return '';
        return `${pathOf(resource.Properties.ParentId.Ref)}/${resource.Properties.PathPart}`;
      };
      return Object.values(template.findResources('AWS::ApiGateway::Method') as Record<string, Resource>).map(
        (method) => `${method.Properties.HttpMethod} ${pathOf(method.Properties.ResourceId.Ref) || '/'}`,
      );
    }

    it('is a regional REST API named after the stage', () => {
      template.hasResourceProperties('AWS::ApiGateway::RestApi', {
        Name: 'triggers-api-dev',
        EndpointConfiguration: { Types: ['REGIONAL'] },
      });
    });

    it('routes only /v1/{proxy+}, GET on /, /openapi.yaml, /docs and the two files the docs page loads', () => {
      expect(routes().sort()).toEqual([
        'ANY /v1/{proxy+}',
        'GET /',
        'GET /docs',
        'GET /docs/redoc.standalone.js',
        'GET /docs/reference.json',
        'GET /openapi.yaml',
      ]);
    });

    it('sends every route to the function as a Lambda proxy', () => {
      const methods = Object.values(
        template.findResources('AWS::ApiGateway::Method') as Record<string, Resource>,
      );
      for (const method of methods) {
        expect(method.Properties.AuthorizationType).toBe('NONE');
        expect(method.Properties.Integration).toMatchObject({
          Type: 'AWS_PROXY',
          IntegrationHttpMethod: 'POST',
        });
        expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(JSON.stringify(getAtt(fn)));
      }
    });

    it('lets API Gateway invoke the function only through the deployed stage, one permission per route', () => {
      const [api] = only(template, 'AWS::ApiGateway::RestApi');
      const [stage] = only(template, 'AWS::ApiGateway::Stage');
      const permissions = Object.values(
        template.findResources('AWS::Lambda::Permission', {
          Properties: { Principal: 'apigateway.amazonaws.com' },
        }) as Record<string, Resource>,
      );
      const prefix = `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${api}>/<${stage}>`;
      expect(permissions.map((permission) => flatten(permission.Properties.SourceArn)).sort()).toEqual([
        `${prefix}/*/v1/*`,
        `${prefix}/GET/`,
        `${prefix}/GET/docs`,
        `${prefix}/GET/docs/redoc.standalone.js`,
        `${prefix}/GET/docs/reference.json`,
        `${prefix}/GET/openapi.yaml`,
      ]);
      for (const permission of permissions) {
        expect(permission.Properties).toMatchObject({
          Action: 'lambda:InvokeFunction',
          Principal: 'apigateway.amazonaws.com',
          FunctionName: getAtt(fn),
        });
      }
    });

    it('deploys stage dev throttled at 100 requests/s, bursts of 200, with metrics on', () => {
      const [, stage] = only(template, 'AWS::ApiGateway::Stage');
      expect(stage.Properties.StageName).toBe('dev');
      expect(stage.Properties.MethodSettings).toEqual([
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
          MetricsEnabled: true,
          DataTraceEnabled: false,
        },
      ]);
    });

    it('does not touch the account-wide API Gateway CloudWatch role', () => {
      template.resourceCountIs('AWS::ApiGateway::Account', 0);
    });
  });

  describe('alarms', () => {
    function alarm(name: string): Resource {
      return only(template, 'AWS::CloudWatch::Alarm', { AlarmName: name })[1].Properties;
    }
    const stageDimensions = () => [
      { Name: 'ApiName', Value: 'triggers-api-dev' },
      { Name: 'Stage', Value: { Ref: only(template, 'AWS::ApiGateway::Stage')[0] } },
    ];
    const metricStat = (Namespace: string, MetricName: string, Dimensions: unknown[], Stat: string) => ({
      Metric: { Namespace, MetricName, Dimensions },
      Period: 300,
      Stat,
    });
    /** One throttle-events term of a DynamoDB throttling alarm's expression. */
    const throttleTerm = (Id: string, MetricName: string, Dimensions: unknown[]) => ({
      Id,
      MetricStat: metricStat('AWS/DynamoDB', MetricName, Dimensions, 'Sum'),
      ReturnData: false,
    });

    it('has ten alarms, each notifying the stage topic on alarm and on recovery', () => {
      const [topic] = only(template, 'AWS::SNS::Topic', { TopicName: 'triggers-api-alarms-dev' });
      const alarms = Object.values(
        template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>,
      );
      expect(alarms.map((each) => each.Properties.AlarmName).sort()).toEqual([
        'triggers-api-dev-5xx-rate',
        'triggers-api-dev-events-table-throttles',
        'triggers-api-dev-keys-table-throttles',
        'triggers-api-dev-lambda-errors',
        'triggers-api-dev-lambda-throttles',
        'triggers-api-dev-latency-p99',
        'triggers-api-dev-webhook-deliveries-failed',
        'triggers-api-dev-webhook-stream-errors',
        'triggers-api-dev-webhook-stream-failures',
        'triggers-api-dev-webhook-sweep-errors',
      ]);
      for (const { Properties } of alarms) {
        expect(Properties.AlarmActions).toEqual([{ Ref: topic }]);
        expect(Properties.OKActions).toEqual([{ Ref: topic }]);
        expect(Properties.TreatMissingData).toBe('notBreaching');
        // Written for the on-call: what happened and where to look.
        expect(String(Properties.AlarmDescription).length).toBeGreaterThan(100);
      }
      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('alarms when more than 1% of requests get a 5xx in 2 of 3 five-minute periods', () => {
      const props = alarm('triggers-api-dev-5xx-rate');
      expect(props).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
      });
      expect(props.Metrics).toEqual([
        expect.objectContaining({ Expression: '100 * errors / requests', ReturnData: true }),
        {
          Id: 'errors',
          MetricStat: metricStat('AWS/ApiGateway', '5XXError', stageDimensions(), 'Sum'),
          ReturnData: false,
        },
        {
          Id: 'requests',
          MetricStat: metricStat('AWS/ApiGateway', 'Count', stageDimensions(), 'Sum'),
          ReturnData: false,
        },
      ]);
    });

    it('alarms when p99 latency is above 100 ms in 2 of 3 five-minute periods', () => {
      expect(alarm('triggers-api-dev-latency-p99')).toMatchObject({
        Namespace: 'AWS/ApiGateway',
        MetricName: 'Latency',
        Dimensions: stageDimensions(),
        ExtendedStatistic: 'p99',
        Period: 300,
        Threshold: 100,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
      });
    });

    it.each([
      ['triggers-api-dev-lambda-errors', 'Errors'],
      ['triggers-api-dev-lambda-throttles', 'Throttles'],
    ])('alarm %s fires on the first five minutes with any Lambda %s', (name, metricName) => {
      const props = alarm(name);
      expect(props).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: metricName,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
      });
      expect(props.DatapointsToAlarm).toBeUndefined();
    });

    it('alarms on any read or write throttling of the events table or any of its indexes', () => {
      const props = alarm('triggers-api-dev-events-table-throttles');
      expect(props).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
      });
      const [expression, ...metrics] = props.Metrics;
      expect(expression.Expression).toBe(
        [0, 1, 2, 3].map((i) => `FILL(read${i}, 0) + FILL(write${i}, 0)`).join(' + '),
      );
      const table = { Name: 'TableName', Value: { Ref: eventsTable } };
      const index = (name: string) => ({ Name: 'GlobalSecondaryIndexName', Value: name });
      expect(metrics).toEqual([
        throttleTerm('read0', 'ReadThrottleEvents', [table]),
        throttleTerm('write0', 'WriteThrottleEvents', [table]),
        ...['inbox', 'available', 'events'].flatMap((name, i) => [
          throttleTerm(`read${i + 1}`, 'ReadThrottleEvents', [index(name), table]),
          throttleTerm(`write${i + 1}`, 'WriteThrottleEvents', [index(name), table]),
        ]),
      ]);
    });

    it('alarms on any read or write throttling of the keys table', () => {
      const props = alarm('triggers-api-dev-keys-table-throttles');
      expect(props).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
      });
      const [expression, ...metrics] = props.Metrics;
      expect(expression.Expression).toBe('FILL(read0, 0) + FILL(write0, 0)');
      const table = { Name: 'TableName', Value: { Ref: keysTable } };
      expect(metrics).toEqual([
        throttleTerm('read0', 'ReadThrottleEvents', [table]),
        throttleTerm('write0', 'WriteThrottleEvents', [table]),
      ]);
    });
  });

  it("outputs the stage URL, both table names, the functions' names and the failure queue, and nothing else", () => {
    const [api] = only(template, 'AWS::ApiGateway::RestApi');
    const [stage] = only(template, 'AWS::ApiGateway::Stage');
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiUrl',
      'EventsTableName',
      'FunctionName',
      'KeysTableName',
      'WebhookStreamFailuresQueueUrl',
      'WebhookStreamFunctionName',
      'WebhookSweepFunctionName',
    ]);
    expect(flatten(outputs.ApiUrl?.Value)).toBe(
      `https://<${api}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/<${stage}>/`,
    );
    expect(outputs.EventsTableName?.Value).toEqual({ Ref: eventsTable });
    expect(outputs.KeysTableName?.Value).toEqual({ Ref: keysTable });
    expect(outputs.FunctionName?.Value).toEqual({ Ref: fn });
    expect(outputs.WebhookStreamFunctionName?.Value).toEqual({
      Ref: functionNamed(template, 'triggers-api-dev-webhook-stream')[0],
    });
    expect(outputs.WebhookSweepFunctionName?.Value).toEqual({
      Ref: functionNamed(template, 'triggers-api-dev-webhook-sweep')[0],
    });
    expect(outputs.WebhookStreamFailuresQueueUrl?.Value).toEqual({
      Ref: only(template, 'AWS::SQS::Queue')[0],
    });
  });
});

describe('TriggersStack for prod with every setting given', () => {
  let template: Template;

  beforeAll(() => {
    template = synth({
      stage: 'prod',
      memorySize: '2048',
      timeoutSeconds: '20',
      reservedConcurrency: '50',
      provisionedConcurrency: '5',
      retentionDays: '14',
      logRetentionDays: '90',
      throttleRate: '500',
      throttleBurst: '1000',
      alarmEmail: 'oncall@example.com',
    });
  });

  it('names the stack and every resource after the stage', () => {
    const stack = createTriggersStack(appWith({ stage: 'prod' }));
    expect(stack.stackName).toBe('TriggersApi-prod');
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'triggers-api-events-prod' });
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'triggers-api-keys-prod' });
    template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'triggers-api-prod' });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'triggers-api-prod' });
    template.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'prod' });
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'triggers-api-alarms-prod' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'triggers-api-prod-5xx-rate' });
  });

  it('protects both tables from deletion and keeps them if the stack goes', () => {
    for (const TableName of ['triggers-api-events-prod', 'triggers-api-keys-prod']) {
      const [, table] = only(template, 'AWS::DynamoDB::Table', { TableName });
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('keeps the logs for the retention given, and keeps the log group if the stack goes', () => {
    const [, logGroup] = only(template, 'AWS::Logs::LogGroup', {
      LogGroupName: '/aws/lambda/triggers-api-prod',
    });
    expect(logGroup.Properties.RetentionInDays).toBe(90);
    expect(logGroup.DeletionPolicy).toBe('Retain');
  });

  it('takes memory, timeout and reserved concurrency from context', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 2048,
      Timeout: 20,
      ReservedConcurrentExecutions: 50,
    });
  });

  it('keeps 5 containers initialised behind a live alias of the current version, and API Gateway invokes the alias', () => {
    const [fn] = functionNamed(template, 'triggers-api-prod');
    const [version, published] = only(template, 'AWS::Lambda::Version');
    expect(published.Properties.FunctionName).toEqual({ Ref: fn });
    const [alias] = only(template, 'AWS::Lambda::Alias', {
      Name: 'live',
      FunctionName: { Ref: fn },
      FunctionVersion: { 'Fn::GetAtt': [version, 'Version'] },
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 5 },
    });
    const methods = Object.values(
      template.findResources('AWS::ApiGateway::Method') as Record<string, Resource>,
    );
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission', {
        Properties: { Principal: 'apigateway.amazonaws.com' },
      }) as Record<string, Resource>,
    );
    expect(methods).toHaveLength(6);
    for (const method of methods) {
      expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(JSON.stringify({ Ref: alias }));
    }
    expect(permissions).toHaveLength(6);
    for (const permission of permissions) expect(permission.Properties.FunctionName).toEqual({ Ref: alias });
  });

  it('alarms when requests spill over the provisioned containers in 2 of 3 five-minute periods', () => {
    const [fn] = functionNamed(template, 'triggers-api-prod');
    const [topic] = only(template, 'AWS::SNS::Topic');
    const [, alarm] = only(template, 'AWS::CloudWatch::Alarm', {
      AlarmName: 'triggers-api-prod-provisioned-spillover',
    });
    expect(alarm.Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'ProvisionedConcurrencySpilloverInvocations',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: fn } },
        { Name: 'Resource', Value: { 'Fn::Join': ['', [{ Ref: fn }, ':live']] } },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      AlarmActions: [{ Ref: topic }],
      OKActions: [{ Ref: topic }],
    });
    expect(alarm.Properties.AlarmDescription).toContain('5 provisioned containers');
  });

  it('passes the stage and the event retention to the server', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TRIGGERS_STAGE: 'prod', TRIGGERS_RETENTION_DAYS: '14' }) },
    });
  });

  it('throttles the stage at the rate and burst given', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 })],
    });
  });

  it('subscribes the alarm email to the alarm topic', () => {
    const [topic] = only(template, 'AWS::SNS::Topic');
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: topic },
    });
  });

  it("scopes the log permissions to prod's own log group", () => {
    const [, role] = roleOf(template, functionNamed(template, 'triggers-api-prod')[1]);
    const resources = role.Properties.Policies[0].PolicyDocument.Statement.flatMap(
      (statement: { Resource: unknown }) => asList(statement.Resource).map(flatten),
    );
    expect(resources).toContainEqual(
      expect.stringMatching(/:log-group:\/aws\/lambda\/triggers-api-prod:\*$/),
    );
  });
});

describe('TriggersStack context checks', () => {
  it.each([
    [{ memorySize: 'lots' }, /memorySize must be an integer from 128 to 10240, got "lots"/],
    [{ timeoutSeconds: '30' }, /timeoutSeconds must be an integer from 1 to 29/],
    [{ reservedConcurrency: '0' }, /reservedConcurrency must be an integer from 1/],
    [{ provisionedConcurrency: '0' }, /provisionedConcurrency must be an integer from 1/],
    [
      { provisionedConcurrency: '20', reservedConcurrency: '10' },
      /provisionedConcurrency \(20\) must not exceed reservedConcurrency \(10\)/,
    ],
    [{ throttleRate: '1.5' }, /throttleRate must be an integer/],
    [{ logRetentionDays: '31' }, /logRetentionDays must be one of 1, 3, 5, 7, 14, 30, 60/],
    [{ alarmEmail: 'on-call' }, /alarmEmail must be an email address/],
    [{ stage: { name: 'dev' } }, /stage must be a string or a number/],
    // These two are the server's own checks, run at synth on the function's environment.
    [{ stage: 'Prod' }, /TRIGGERS_STAGE must be 1 to 32 lowercase letters/],
    [{ retentionDays: '400' }, /TRIGGERS_RETENTION_DAYS must be an integer from 1 to 365/],
  ])('refuses the context %j', (context, message) => {
    expect(() => createTriggersStack(appWith(context))).toThrow(message);
  });

  it.each([
    [{ memorysize: '512' }, /Unknown context key "memorysize": did you mean "memorySize"\?/],
    [{ stag: 'prod' }, /Unknown context key "stag": did you mean "stage"\?/],
    [{ throttle_burst: '10' }, /Unknown context key "throttle_burst": did you mean "throttleBurst"\?/],
    [
      { zz: '1', alarmMail: 'a@b.c' },
      /Unknown context key "alarmMail" \(and zz\): did you mean "alarmEmail"\?/,
    ],
  ])('refuses the unknown context key in %j, naming the closest known one', (context, message) => {
    expect(() => createTriggersStack(appWith(context))).toThrow(message);
  });

  it('lists every known key when it refuses an unknown one', () => {
    expect(() => createTriggersStack(appWith({ memorysize: '512' }))).toThrow(
      `Known keys: ${CONTEXT_KEYS.join(', ')}`,
    );
  });

  it("accepts the CDK's own context keys: feature flags, CLI keys and cached lookups", () => {
    const context = {
      '@aws-cdk/aws-lambda:recognizeLayerVersion': true,
      'aws:cdk:enable-path-metadata': true,
      'cdk-migrate': false,
      'availability-zones:account=123456789012:region=eu-west-1': ['eu-west-1a'],
      memorySize: '512',
    };
    expect(() => createTriggersStack(appWith(context))).not.toThrow();
  });
});

describe('TriggersStack with real bundling', () => {
  /** The files of the asset a function deploys, each checked to be the same as in `expected`. */
  function assetOf(app: App, fn: Resource, expected: string): string[] {
    const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
    const asset = path.join(app.outdir, `asset.${hash}`);
    // Every file, in subfolders too (the API's iconv-lite tables sit in tables/).
    const filesIn = (dir: string) =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
        .sort();
    const files = filesIn(asset);
    expect(files).toContain('index.js');
    expect(files).toEqual(filesIn(expected));
    // The source map is left out: it names the sources relative to wherever it was built.
    for (const file of files.filter((name) => !name.endsWith('.map'))) {
      expect({
        file,
        same: readFileSync(path.join(asset, file)).equals(readFileSync(path.join(expected, file))),
      }).toEqual({
        file,
        same: true,
      });
    }
    return files;
  }

  it("deploys exactly bundleLambda's output for the API and bundleDeliveryLambda's for both delivery functions", () => {
    // Prepare
    const app = appWith({}, { bundle: true });
    const api = mkdtempSync(path.join(workDir, 'bundle-'));
    bundleLambda(api);
    const delivery = mkdtempSync(path.join(workDir, 'delivery-bundle-'));
    bundleDeliveryLambda(delivery);
    // Act
    const template = Template.fromStack(createTriggersStack(app));
    // Assess
    const [, fn] = functionNamed(template, 'triggers-api-dev');
    expect(fn.Properties.Handler).toBe('index.handler');
    expect(assetOf(app, fn, api)).toContain('tables/shiftjis.json');
    const [, stream] = functionNamed(template, 'triggers-api-dev-webhook-stream');
    const [, sweep] = functionNamed(template, 'triggers-api-dev-webhook-sweep');
    expect(stream.Properties.Code).toEqual(sweep.Properties.Code);
    expect(stream.Properties.Code).not.toEqual(fn.Properties.Code);
    assetOf(app, stream, delivery);
  });
});
