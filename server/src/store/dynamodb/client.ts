import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoClientOptions {
  region: string;
  /** DynamoDB Local or another endpoint; unset, AWS's own. */
  endpoint?: string;
}

const MAX_ATTEMPTS = 3;
/**
 * Per attempt. DynamoDB answers in milliseconds; this leaves DynamoDB Local on a loaded
 * 2-core test box room, and an attempt that runs out is retried.
 */
const REQUEST_TIMEOUT_MS = 2_000;

/**
 * One document client per process. The SDK's standard retry mode retries throttling,
 * transient faults and timeouts with exponential backoff and jitter.
 *
 * The timeouts bound how long a request waits on a store that does not answer. A refused
 * connection fails at once; a hung one (accepting connections, never answering) would
 * otherwise hold every request for the SDK's 300 s socket default, because `requestTimeout`
 * alone only logs a warning: `throwOnRequestTimeout` makes it fail the attempt. So one call
 * takes at most MAX_ATTEMPTS x REQUEST_TIMEOUT_MS plus the backoff (<= 0.6 s), ~6.6 s: under
 * the Lambda's 10 s timeout, so the client still gets a 503 in the envelope, not the
 * gateway's bare 504 (tests/reliability/dynamodb-outage.test.ts).
 */
export function createDynamoClients({ region, endpoint }: DynamoClientOptions): DynamoClients {
  // The SDK is pinned to a release that still supports Node 20 (releases from 2027 need Node
  // 22); without this it warns there, at every client made, that later releases will not.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const base = new DynamoDBClient({
    region,
    endpoint,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: 1_000,
      // Per attempt, from the moment it is sent (waiting for a free socket included).
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
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
