/**
 * Bounded retries with exponential backoff and full jitter, as in the AWS SDK's standard
 * retry mode: before retry n (1-based) a wait drawn uniformly from
 * [0, min(maxDelayMs, baseDelayMs × 2^(n-1))). The jitter spreads out callers that failed
 * together, so that they do not all come back at the same moment.
 */
export interface RetryPolicy {
  /** Sends in all, the first one included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Injectable, so that tests do not wait for real. */
  sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1); injectable, so that tests can fix the jitter. */
  random: () => number;
}

/** How long to wait before retry `retry` (1 for the first retry). */
export function retryDelay(policy: RetryPolicy, retry: number): number {
  return policy.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
}

/** The real wait: Node's promise timer. */
export { setTimeout as sleep } from 'node:timers/promises';
