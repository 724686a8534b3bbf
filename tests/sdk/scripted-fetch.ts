/**
 * An injected fetch for the SDK's unit tests, as openapi-fetch's own tests use: it records
 * every request the SDK sends and answers from a script, network failures included.
 */
import type { Event } from '../../sdk/src/index';

export interface Sent {
  method: string;
  url: URL;
  headers: Headers;
  idempotencyKey: string | null;
  retryCount: string | null;
  body: string;
  /** The signal the attempt ran under (the per-attempt timeout, joined with the caller's). */
  signal: AbortSignal | undefined;
}

/**
 * One scripted answer: a Response, a network failure (fetch's TypeError), an attempt that
 * never answers unless its signal aborts, or a function of the request.
 */
export type Answer = Response | 'network-error' | 'hang' | ((sent: Sent) => Response | Promise<Response>);

export function scriptedFetch(...answers: Answer[]) {
  const sent: Sent[] = [];
  let calls = 0;
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    calls += 1;
    const request = input instanceof Request ? input : new Request(input, init);
    const signal = init?.signal ?? request.signal;
    // What the real fetch does with a signal that is already aborted: nothing goes out.
    if (signal?.aborted) throw signal.reason;
    const record: Sent = {
      method: request.method,
      url: new URL(request.url),
      headers: new Headers(request.headers),
      idempotencyKey: request.headers.get('idempotency-key'),
      retryCount: request.headers.get('x-retry-count'),
      body: await request.text(),
      signal: signal ?? undefined,
    };
    sent.push(record);
    const answer = answers.shift();
    if (answer === undefined) return new Response(`unscripted request #${sent.length}`, { status: 599 });
    if (answer === 'network-error') throw new TypeError('fetch failed');
    if (answer === 'hang') {
      return new Promise<Response>((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    return typeof answer === 'function' ? answer(record) : answer;
  };
  /** `sent`: what went out; `calls()`: every call, also those refused for an aborted signal. */
  return { fetch: fetch as typeof globalThis.fetch, sent, calls: () => calls };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', 'X-Request-ID': 'req-from-header', ...headers },
  });
}

export function apiError(
  status: number,
  code: string,
  options: { details?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Response {
  const body = {
    error: { code, message: `message of ${code}`, details: options.details ?? {}, request_id: `req-${code}` },
  };
  return json(status, body, options.headers);
}

/** Event `n` as the API shows it: pending, created `n` seconds into a fixed day. */
export function event(n: number, overrides: Partial<Event> = {}): Event {
  const created = Date.UTC(2025, 0, 1, 0, 0, n);
  return {
    event_id: `0194a000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    created_at: new Date(created).toISOString(),
    source: 'shop',
    event_type: 'order.created',
    payload: { n },
    status: 'pending',
    metadata: { priority: 'normal' },
    acknowledged_at: null,
    expires_at: new Date(created + 7 * 86_400_000).toISOString(),
    delivery_count: 0,
    leased_until: null,
    ...overrides,
  };
}
