import { createDynamoClients, type DynamoClients } from '../../server/src/store/dynamodb/client';

/**
 * Production's DynamoDB clients (store/dynamodb/client.ts), waiting 10 s to connect and per
 * attempt instead of 1 s and 2 s, for tests against the DynamoDB Local the whole suite shares.
 * On two cores, with up to 100 requests at once, sometimes while another test starts a JVM of
 * its own, production's bounds run out three attempts in a row: the test then fails on timing,
 * which it does not test (the outage tests, which do, keep production's clients).
 */
export function patientDynamoClients(endpoint: string): DynamoClients {
  const clients = createDynamoClients({ region: 'us-east-1', endpoint });
  const handler = clients.base.config.requestHandler as {
    updateHttpClientConfig(key: 'requestTimeout' | 'connectionTimeout', value: number): void;
  };
  handler.updateHttpClientConfig('requestTimeout', 10_000);
  handler.updateHttpClientConfig('connectionTimeout', 10_000);
  return clients;
}
