import type { RequestHandler } from 'express';
import { principalOf } from '../auth/middleware';
import type { Clock } from '../clock';
import { RateLimitedError } from '../errors';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Buckets kept before idle (full) ones are dropped. */
const MAX_BUCKETS = 10_000;

/**
 * Per-key token bucket: `ratePerSecond` tokens flow in continuously, up to `burst`. A request
 * takes one token or is refused with the seconds until one is back.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {}

  /** 0 when allowed, else the whole seconds to wait. */
  take(key: string): number {
    const now = this.clock();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updatedAt: now };
    const refilled = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.ratePerSecond,
    );
    if (!this.buckets.has(key) && this.buckets.size >= MAX_BUCKETS) this.dropIdle(now);
    if (refilled >= 1) {
      this.buckets.set(key, { tokens: refilled - 1, updatedAt: now });
      return 0;
    }
    this.buckets.set(key, { tokens: refilled, updatedAt: now });
    return Math.max(1, Math.ceil((1 - refilled) / this.ratePerSecond));
  }

  private dropIdle(now: number): void {
    const fullAfterMs = (this.burst / this.ratePerSecond) * 1000;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt >= fullAfterMs) this.buckets.delete(key);
    }
  }
}

/** 429 RATE_LIMITED with Retry-After once the API key's bucket is empty. */
export function rateLimit(limiter: TokenBucketLimiter): RequestHandler {
  return (_req, res, next) => {
    const retryAfter = limiter.take(principalOf(res).keyId);
    if (retryAfter > 0) throw new RateLimitedError(retryAfter);
    next();
  };
}
