import { parseRetryAfter, TriggersConnectionError } from './errors.js';

export interface RetryOptions {
  /** Retries after the first attempt (default 2). */
  maxRetries: number;
  /** Time one attempt may take before it is aborted (default 30 s). */
  timeoutMs: number;
  /** First backoff step (default 500 ms); the n-th retry waits up to base × 2^(n-1). */
  baseDelayMs?: number;
  /** Longest backoff, and longest Retry-After honoured (default 20 s). */
  maxDelayMs?: number;
  /**
   * The requests this fetch sends are safe to repeat by their meaning (ack, nack and extend
   * with a lease id), so a POST is retried without an `Idempotency-Key` too.
   */
  retrySafe?: boolean;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/**
 * Wraps `fetch` with retries, as stripe-node's RequestSender does: network errors, timeouts,
 * 429 and 5xx are retried with exponential backoff and full jitter, capped, honouring
 * `Retry-After`. A POST is retried only when it carries an `Idempotency-Key` (the SDK sets
 * one on every create), since repeating any other POST could apply it twice, or when the
 * fetch is made `retrySafe` for operations whose repetition changes nothing (the client
 * uses such a fetch for ack, nack and extend only). Each retry sends `X-Retry-Count`, which
 * the server logs.
 */
export function retryingFetch(
  baseFetch: typeof fetch,
  options: RetryOptions,
): (request: Request) => Promise<Response> {
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 20_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;

  return async (request) => {
    const retryable =
      options.retrySafe === true || request.method !== 'POST' || request.headers.has('idempotency-key');
    const wait = (ms: number) => abortable(sleep(ms), request.signal);
    for (let attempt = 0; ; attempt += 1) {
      const canRetry = retryable && attempt < options.maxRetries;
      const next = request.clone();
      if (attempt > 0) next.headers.set('X-Retry-Count', String(attempt));
      let response: Response;
      let body: ArrayBuffer;
      try {
        response = await baseFetch(next, { signal: withTimeout(request.signal, options.timeoutMs) });
        // The body is read here, under the same timeout and retries: a connection that
        // stalls or drops mid-body is a failed attempt like any other.
        body = await response.arrayBuffer();
      } catch (error) {
        // The caller's own abort ends everything; anything else is the network or our timeout.
        if (request.signal?.aborted) throw error;
        if (!canRetry) {
          throw new TriggersConnectionError(
            `No answer from the Triggers API (${describe(error)}) after ${attempt + 1} attempt${attempt ? 's' : ''}.`,
            { cause: error },
          );
        }
        await wait(backoff(attempt + 1, base, cap, random));
        continue;
      }
      if (!canRetry || !RETRY_STATUSES.has(response.status)) {
        return new Response(NULL_BODY_STATUSES.has(response.status) ? null : body, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      }
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
      await wait(
        retryAfter === undefined ? backoff(attempt + 1, base, cap, random) : Math.min(retryAfter * 1000, cap),
      );
    }
  };
}

/** Statuses whose Response may not carry a body, even an empty one. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable(promise: Promise<void>, signal: AbortSignal | null | undefined): Promise<void> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Full jitter: a random wait in [0, min(cap, base × 2^(n-1))]. */
export function backoff(retry: number, base: number, cap: number, random: () => number): number {
  return random() * Math.min(cap, base * 2 ** (retry - 1));
}

/** Aborts on the caller's signal or after `timeoutMs` (AbortSignal.any is not in Node 18). */
function withTimeout(signal: AbortSignal | null | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  if (!signal) return timeout;
  const controller = new AbortController();
  for (const source of [signal, timeout]) {
    if (source.aborted) controller.abort(source.reason);
    else source.addEventListener('abort', () => controller.abort(source.reason), { once: true });
  }
  return controller.signal;
}

function describe(error: unknown): string {
  const name = (error as { name?: string })?.name;
  if (name === 'TimeoutError') return 'timed out';
  const message = (error as { message?: string })?.message;
  return message ? message : String(error);
}
