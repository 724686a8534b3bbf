/**
 * Jest global setup: gives every test a real DynamoDB in TRIGGERS_DYNAMODB_ENDPOINT (the
 * workers inherit this process's environment). An endpoint already set is used as it is;
 * otherwise DynamoDB Local is started here and stopped by dynamodb-global-teardown.ts.
 */
import { type DynamoDbLocal, startDynamoDbLocal } from './helpers/dynamodb-local';

declare global {
  // Read by the global teardown, which runs in this same process.
  var __DYNAMODB_LOCAL__: DynamoDbLocal | undefined;
}

export default async function dynamoDbGlobalSetup(): Promise<void> {
  // The pinned AWS SDK warns on Node 20 when a client is made (releases from 2027 need Node 22);
  // workers inherit this.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (process.env.TRIGGERS_DYNAMODB_ENDPOINT) return;
  const local = await startDynamoDbLocal();
  globalThis.__DYNAMODB_LOCAL__ = local;
  process.env.TRIGGERS_DYNAMODB_ENDPOINT = local.endpoint;
}
