import type { Request, Response } from 'express';
import type { Clock } from '../clock';
import { RateLimitedError } from '../errors';
import { clientAddress } from '../http/client-address';
import { setRateLimitHeaders, TokenBucketLimiter } from '../http/token-bucket';

export const FAILED_AUTH_POLICY = 'failed-auth';

/**
 * Brute-force guard: failed authentications are counted per client address (see
 * clientAddress for which address that is) in a token bucket of `attempts` that refills over
 * `windowSeconds`: `attempts` failures at once, then `attempts` per window. Once it is empty,
 * every request from that address is refused before its key is looked up, so guessing keys
 * costs the store nothing; other addresses, and their keys, are not affected.
 *
 * In memory: each process (each Lambda container) counts on its own. On Lambda, API Gateway's
 * stage throttling is the outer limit shared by every caller; this one and the per-key bucket
 * apply inside each container.
 */
export class FailedAuthLimiter {
  private readonly buckets: TokenBucketLimiter;

  constructor(attempts: number, windowSeconds: number, clock: Clock) {
    this.buckets = new TokenBucketLimiter(attempts / windowSeconds, attempts, clock);
  }

  /** Throws the 429 when the request's address has no failed attempt left. */
  check(req: Request, res: Response): void {
    const state = this.buckets.peek(clientAddress(req));
    if (state.allowed) return;
    setRateLimitHeaders(res, FAILED_AUTH_POLICY, this.buckets, state);
    throw new RateLimitedError(state.retryAfterSeconds, 'failed authentications from this address');
  }

  /** Counts one failed authentication against the request's address. */
  fail(req: Request): void {
    this.buckets.charge(clientAddress(req));
  }
}
