/** Jest global teardown: stops the DynamoDB Local that the global setup started, if any. */
export default async function dynamoDbGlobalTeardown(): Promise<void> {
  const local = globalThis.__DYNAMODB_LOCAL__;
  if (!local) return; // an endpoint given from outside: not ours to stop
  globalThis.__DYNAMODB_LOCAL__ = undefined;
  // In watch mode the next run's setup must start a new one, not reuse this endpoint.
  if (process.env.TRIGGERS_DYNAMODB_ENDPOINT === local.endpoint)
    delete process.env.TRIGGERS_DYNAMODB_ENDPOINT;
  await local.stop();
}
