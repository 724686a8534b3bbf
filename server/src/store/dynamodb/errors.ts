import { UnavailableError } from '../../errors';

// Throttling, capacity and service-side faults, after the SDK's own retries with backoff
// have run out: a retry later may succeed, so they answer 503 with Retry-After.
const TRANSIENT_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionInProgressException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  // A missing table is an operator's problem, not the client's; nothing here can fix it.
  'ResourceNotFoundException',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Part of a batch request that DynamoDB still left unprocessed after the bounded resends
 * (batch.ts): the table is throttling, and a retry later may succeed.
 */
export class UnprocessedItemsError extends Error {
  constructor(operation: string, unprocessed: number, attempts: number) {
    super(`${operation} left ${unprocessed} request(s) unprocessed after ${attempts} attempts`);
    this.name = 'UnprocessedItemsError';
  }
}

/** True for a fault of the store (not of the request): see TRANSIENT_NAMES. */
export function isDynamoFault(error: unknown): boolean {
  if (error instanceof UnprocessedItemsError) return true;
  const candidate = error as AwsLikeError | null;
  if (!candidate || typeof candidate !== 'object') return false;
  if (candidate.name && TRANSIENT_NAMES.has(candidate.name)) return true;
  if (candidate.code && NETWORK_CODES.has(candidate.code)) return true;
  // The SDK saw no HTTP answer at all (refused, reset, timed out): the store is unreachable.
  if (candidate.$metadata && candidate.$metadata.httpStatusCode === undefined) return true;
  const status = candidate.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

/**
 * Runs `fn`, turning store faults into the domain's UnavailableError (the AWS error stays as
 * its cause, for the log only). Anything else is rethrown as it is: a bug, answered 500.
 */
export async function withDynamoFaults<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isDynamoFault(error)) throw new UnavailableError({ cause: error, retryAfterSeconds: 1 });
    throw error;
  }
}
