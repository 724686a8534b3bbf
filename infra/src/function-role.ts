import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  AVAILABLE_INDEX,
  EVENTS_INDEX,
  INBOX_INDEX,
  SUBSCRIPTION_INDEX,
} from '../../server/src/store/dynamodb/tables';
import type { ResourceNames } from './names';
import type { Tables } from './tables';

/**
 * The item calls of server/src/store/dynamodb/*.ts on the events table: Put/Get/Update/Delete,
 * BatchGet, BatchWrite, and TransactWrite, which IAM authorizes as its Put, Update, Delete and
 * ConditionCheck items. The API and the delivery functions make all of them.
 */
const EVENTS_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
];

/**
 * The function's role, least privilege: exactly the calls the Lambda makes, on exactly our
 * resources. No managed policy (AWSLambdaBasicExecutionRole allows logs on `*`) and no
 * `grantReadWriteData` (it grants `index/*` and actions the server never uses).
 *
 * The calls are those of server/src/store/dynamodb/*.ts: Put/Get/Update/Delete, BatchGet,
 * BatchWrite and TransactWrite (authorized as its Put, Update, Delete and ConditionCheck items)
 * on the events table, Query on four of its indexes only (inbox, available for leases, events
 * for the event list, subscription for a webhook log and for deleting a subscription's
 * records; never on the table itself, so never a Scan-like read of it), and GetItem on the
 * keys table. The `due` index is the deliverer's, not the API's. Scan, Put and Update on the
 * keys table belong to the operator's keys CLI, which runs with the operator's own rights.
 */
export function createFunctionRole(scope: Construct, names: ResourceNames, tables: Tables): iam.Role {
  return new iam.Role(scope, 'FunctionRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Triggers API (${names.function}): what the function needs and nothing else`,
    // Inline, not attached afterwards: the role never exists without its permissions.
    inlinePolicies: {
      access: new iam.PolicyDocument({
        statements: [
          writeOwnLogs(scope, names.logGroup),
          new iam.PolicyStatement({
            sid: 'ReadWriteEvents',
            actions: EVENTS_ITEM_ACTIONS,
            resources: [tables.events.tableArn],
          }),
          new iam.PolicyStatement({
            sid: 'QueryIndexes',
            actions: ['dynamodb:Query'],
            resources: [INBOX_INDEX, AVAILABLE_INDEX, EVENTS_INDEX, SUBSCRIPTION_INDEX].map(
              (index) => `${tables.events.tableArn}/index/${index}`,
            ),
          }),
          new iam.PolicyStatement({
            sid: 'ReadKeys',
            actions: ['dynamodb:GetItem'],
            resources: [tables.keys.tableArn],
          }),
        ],
      }),
    },
  });
}

/**
 * The delivery functions' roles (delivery.ts), least privilege like the API's, inline:
 * - the item calls of an attempt on the events table: claim (UpdateItem; GetItem after a lost
 *   answer), the subscription and the event (GetItem; BatchGetItem for a chunked payload), the
 *   finish (a TransactWrite of Put, Update, Delete and ConditionCheck), a drop (DeleteItem), and
 *   on disabling a subscription, BatchWriteItem deletes of its records;
 * - Query on the `subscription` index (the records of a subscription being disabled) and, for
 *   the sweep only, on `due` (its claims); never on the table, never on the keys table;
 * - the stream function: its stream's four read actions (Lambda's poller reads the stream as
 *   the function's role) on that stream's ARN, and SendMessage to its on-failure queue.
 * The event source mapping and its SqsDlq would add grants of their own (ListStreams on `*`,
 * GetQueueAttributes and GetQueueUrl) in a separate policy: the function gets this role
 * without policy updates, so what it may do is exactly this document.
 */
export function createDeliveryRole(
  scope: Construct,
  id: string,
  options: {
    functionName: string;
    logGroupName: string;
    tables: Tables;
    indexes: readonly string[];
    stream?: { arn: string; failureQueue: sqs.IQueue };
  },
): iam.Role {
  const { tables, stream } = options;
  const statements = [
    writeOwnLogs(scope, options.logGroupName),
    new iam.PolicyStatement({
      sid: 'ReadWriteEvents',
      actions: EVENTS_ITEM_ACTIONS,
      resources: [tables.events.tableArn],
    }),
    new iam.PolicyStatement({
      sid: 'QueryIndexes',
      actions: ['dynamodb:Query'],
      resources: options.indexes.map((index) => `${tables.events.tableArn}/index/${index}`),
    }),
  ];
  if (stream) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'ReadEventsStream',
        actions: [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
        ],
        resources: [stream.arn],
      }),
      new iam.PolicyStatement({
        sid: 'SendStreamFailures',
        actions: ['sqs:SendMessage'],
        resources: [stream.failureQueue.queueArn],
      }),
    );
  }
  return new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Triggers API (${options.functionName}): what the function needs and nothing else`,
    inlinePolicies: { access: new iam.PolicyDocument({ statements }) },
  });
}

/**
 * Writing to the function's own log group, `{group}:*`: the form AWS's Lambda console writes
 * for these two actions, which covers the group and its streams (`{group}:log-stream:{name}`)
 * whichever one IAM checks an action against, and nothing outside the group. The group exists
 * already (the stack makes it); Lambda only adds streams to it.
 */
function writeOwnLogs(scope: Construct, logGroupName: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'WriteOwnLogs',
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    resources: [
      Stack.of(scope).formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: `${logGroupName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ],
  });
}
