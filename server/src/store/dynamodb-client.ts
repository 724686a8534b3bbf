import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoClientOptions {
  region: string;
  /** DynamoDB Local or another endpoint; unset, AWS's own. */
  endpoint?: string;
}

/**
 * One document client per process. The SDK's standard retry mode retries throttling and
 * transient faults with exponential backoff and jitter (4 attempts in all); the timeouts
 * make a store that does not answer fail fast, so health can say so and requests get a 503.
 */
export function createDynamoClients({ region, endpoint }: DynamoClientOptions): DynamoClients {
  // The SDK is pinned to a release that supports Node 20 (STACK.md); without this it warns,
  // at every client made, that later releases will not. Lambda runs Node 22 or newer.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const base = new DynamoDBClient({
    region,
    endpoint,
    maxAttempts: 4,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 },
    // DynamoDB Local accepts any credentials; on AWS the default provider chain applies.
    ...(endpoint ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  const documents = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  return { base, documents };
}

export interface DynamoClients {
  /** For table management (create, TTL, waiters). */
  base: DynamoDBClient;
  /** For items: plain JavaScript values in and out. */
  documents: DynamoDBDocumentClient;
}
