import { type App, CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { createAlarms } from './alarms';
import { createApi } from './api';
import { createDeliveryFunctions } from './delivery';
import { createFunction } from './function';
import { resourceNames } from './names';
import { readSettings, type StackSettings } from './settings';
import { createTables } from './tables';

/**
 * The whole Triggers API on AWS for one stage: API Gateway -> one Lambda -> two DynamoDB
 * tables, webhook delivery from the events table's stream and a scheduled sweep (two more
 * functions), with logs and alarms. Environment-agnostic (no account or region, no lookups), so
 * `cdk synth` needs neither credentials nor network.
 */
export class TriggersStack extends Stack {
  constructor(scope: Construct, id: string, settings: StackSettings, props?: StackProps) {
    super(scope, id, {
      description: `Triggers API (${settings.stage}): API Gateway, Lambda, DynamoDB, webhook delivery and CloudWatch alarms`,
      ...props,
    });
    const names = resourceNames(settings.stage);
    const tables = createTables(this, settings, names);
    const { handler, live } = createFunction(this, settings, names, tables);
    const api = createApi(this, settings, names, live ?? handler);
    const delivery = createDeliveryFunctions(this, settings, names, tables);
    createAlarms(this, settings, names, { api, handler, live, tables, delivery });
    Tags.of(this).add('service', 'triggers-api');
    Tags.of(this).add('stage', settings.stage);

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL of the stage (ends with /)' });
    new CfnOutput(this, 'EventsTableName', { value: tables.events.tableName });
    new CfnOutput(this, 'KeysTableName', { value: tables.keys.tableName });
    new CfnOutput(this, 'FunctionName', { value: handler.functionName });
    new CfnOutput(this, 'WebhookStreamFunctionName', { value: delivery.stream.functionName });
    new CfnOutput(this, 'WebhookSweepFunctionName', { value: delivery.sweep.functionName });
    new CfnOutput(this, 'WebhookStreamFailuresQueueUrl', { value: delivery.streamFailures.queueUrl });
  }
}

/** The stack for the app's context (`-c stage=prod` ...): what bin/triggers.ts and the tests build. */
export function createTriggersStack(app: App): TriggersStack {
  const settings = readSettings(app.node);
  return new TriggersStack(app, resourceNames(settings.stage).stack, settings);
}
