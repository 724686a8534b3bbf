import type { Response } from 'express';
import type { Clock } from '../clock';

/*
 * Token buckets and the RateLimit headers that tell them. Both limiters use them: the per-key
 * one (rate-limit.ts, which needs the principal from auth/middleware.ts) and the
 * failed-authentication one (auth/failed-auth-limit.ts, which auth/middleware.ts takes). So
 * this module imports nothing from auth/ or http/: the imports point one way, with no circle.
 */

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** A bucket as one call leaves it. */
export interface BucketState {
  /** take: this request passed; peek and charge: a request would pass now. */
  allowed: boolean;
  /** Whole tokens left: requests that would pass right now. */
  remaining: number;
  /** Seconds until the bucket is full again (0 when it is). */
  resetSeconds: number;
  /** Seconds until the next request would pass (0: it would pass now). */
  retryAfterSeconds: number;
}

/** Buckets kept in memory at most, per limiter. */
const MAX_BUCKETS = 10_000;

/**
 * Token buckets by key: `ratePerSecond` tokens flow in continuously, up to `burst`. A request
 * takes one token or is refused with the seconds until one is back.
 *
 * Memory is bounded: at `maxBuckets`, full buckets are forgotten first (a forgotten key starts
 * full, so nothing changes for it); if that is not enough, the least recently used ones go,
 * down to 90 % of the bound. Each scan therefore frees room for at least a tenth of the bound,
 * so a flood of new keys (the failed-authentication limiter's client addresses: an IPv6 /48
 * holds 65,536 /64s) costs O(1) per request on average instead of a scan per request, and
 * memory stays flat. Forgetting a bucket in debt lets that key start over; a client needs
 * thousands of other keys in use within the refill time to make that happen to its own.
 */
export class TokenBucketLimiter {
  /** In least recently used order (store() moves a key to the end). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly clock: Clock,
    private readonly maxBuckets = MAX_BUCKETS,
  ) {}

  /** Buckets held in memory. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes a token when there is one. */
  take(key: string): BucketState {
    const now = this.clock();
    const tokens = this.refilled(key, now);
    const allowed = tokens >= 1;
    return this.store(key, allowed ? tokens - 1 : tokens, now, allowed);
  }

  /** Whether a token is there, taking none. */
  peek(key: string): BucketState {
    const now = this.clock();
    const tokens = this.refilled(key, now);
    return this.state(tokens, tokens >= 1);
  }

  /**
   * Takes a token even when there is none. The balance may go below zero, so that requests
   * that all passed `peek` at once are paid for: the key then waits longer.
   */
  charge(key: string): BucketState {
    const now = this.clock();
    const tokens = this.refilled(key, now) - 1;
    return this.store(key, tokens, now, tokens >= 1);
  }

  private refilled(key: string, now: number): number {
    const bucket = this.buckets.get(key);
    return bucket ? this.tokensAt(bucket, now) : this.burst;
  }

  private tokensAt(bucket: Bucket, now: number): number {
    return Math.min(this.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.ratePerSecond);
  }

  private store(key: string, tokens: number, now: number, allowed: boolean): BucketState {
    if (!this.buckets.delete(key) && this.buckets.size >= this.maxBuckets) this.makeRoom(now);
    this.buckets.set(key, { tokens, updatedAt: now });
    return this.state(tokens, allowed);
  }

  private state(tokens: number, allowed: boolean): BucketState {
    return {
      allowed,
      remaining: Math.max(0, Math.floor(tokens)),
      resetSeconds: Math.max(0, Math.ceil((this.burst - tokens) / this.ratePerSecond)),
      retryAfterSeconds: tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.ratePerSecond)),
    };
  }

  /** Forgets full buckets, then the least recently used ones down to 90 % of the bound. */
  private makeRoom(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.tokensAt(bucket, now) >= this.burst) this.buckets.delete(key);
    }
    let excess = this.buckets.size - Math.floor(this.maxBuckets * 0.9);
    for (const key of this.buckets.keys()) {
      if (excess-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}

/**
 * The IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-10/11,
 * structured-field lists of one item named after the policy).
 *
 * A token bucket has no fixed window, so it is told as the quota policy it behaves like: `q` is
 * the burst (what a full bucket lets through at once) and `w` the seconds an empty bucket takes
 * to fill again (burst / rate, rounded up), so q/w is the sustained rate. In `RateLimit`, `r` is
 * the whole tokens left and `t` the seconds until the bucket is full again (the quota is whole
 * again then); when refused, `Retry-After` says when one request will pass.
 */
export function setRateLimitHeaders(
  res: Response,
  policy: string,
  limiter: TokenBucketLimiter,
  state: BucketState,
  partitionKey?: string,
): void {
  const window = Math.max(1, Math.ceil(limiter.burst / limiter.ratePerSecond));
  const pk = partitionKey === undefined ? '' : `;pk=:${partitionKey}:`;
  res.setHeader('RateLimit-Policy', `"${policy}";q=${limiter.burst};w=${window}${pk}`);
  res.setHeader('RateLimit', `"${policy}";r=${state.remaining};t=${state.resetSeconds}${pk}`);
}
