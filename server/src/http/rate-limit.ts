import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { principalOf } from '../auth/middleware';
import { RateLimitedError } from '../errors';
import { setRateLimitHeaders, type TokenBucketLimiter } from './token-bucket';
import { isWarmUpRequest } from './warm-up';

/**
 * The partition key of a key id's bucket, as a structured-field byte sequence (base64): a
 * hash of the key id, so the headers tell buckets apart without naming the key.
 */
export function partitionKeyOf(keyId: string): string {
  return createHash('sha256').update(keyId, 'utf8').digest().subarray(0, 12).toString('base64');
}

export const PER_KEY_POLICY = 'per-key';

/**
 * Per API key (its key id): 429 RATE_LIMITED with Retry-After once the bucket is empty, and the
 * RateLimit headers on every answer it lets through (2xx, and the 4xx after it) as on the 429.
 * It runs before the body is read, so a refused request never reaches idempotency: a 429 is
 * never stored, and its retry is a first request.
 */
export function rateLimit(limiter: TokenBucketLimiter): RequestHandler {
  return (req, res, next) => {
    if (isWarmUpRequest(req)) return next();
    const keyId = principalOf(res).keyId;
    const state = limiter.take(keyId);
    setRateLimitHeaders(res, PER_KEY_POLICY, limiter, state, partitionKeyOf(keyId));
    if (!state.allowed) throw new RateLimitedError(state.retryAfterSeconds);
    next();
  };
}
