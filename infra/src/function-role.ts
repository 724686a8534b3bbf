import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
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
  const logStreams = Stack.of(scope).formatArn({
    service: 'logs',
    resource: 'log-group',
    // `{group}:*`, the form AWS's Lambda console writes for these two actions: it covers the
    // group and its streams (`{group}:log-stream:{name}`) whichever one IAM checks an action
    // against, and nothing outside our group.
    resourceName: `${names.logGroup}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  return new iam.Role(scope, 'FunctionRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Triggers API (${names.function}): what the function needs and nothing else`,
    // Inline, not attached afterwards: the role never exists without its permissions.
    inlinePolicies: {
      access: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'WriteOwnLogs',
            // The log group exists already (the stack makes it); Lambda only adds streams to it.
            actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            resources: [logStreams],
          }),
          new iam.PolicyStatement({
            sid: 'ReadWriteEvents',
            actions: [
              'dynamodb:GetItem',
              'dynamodb:PutItem',
              'dynamodb:UpdateItem',
              'dynamodb:DeleteItem',
              'dynamodb:BatchGetItem',
              'dynamodb:BatchWriteItem',
              'dynamodb:ConditionCheckItem',
            ],
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
