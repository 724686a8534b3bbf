/**
 * Shared by the fault tests (tests/reliability/*.test.ts): real HTTP to a running server,
 * every answer checked against the contract, and a ledger of what the server promised (the
 * 201s) and of the ingests whose outcome is unknown (a 5xx or no answer), which a retry with
 * the same idempotency key must settle without a second event.
 */
import { randomUUID } from 'node:crypto';
import { assertAnswerMatchesContract } from '../helpers/contract';

export const DEV_KEY = 'test-api-key-12345';

export type Json = Record<string, unknown>;

export interface HttpAnswer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Json;
  /** From sending the request to the end of the answer's body. */
  ms: number;
}

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** The key sent as X-API-Key; the development key unless given. */
  apiKey?: string;
  timeoutMs?: number;
}

/**
 * One request over a real socket. The answer must match the contract (documented status,
 * schema, envelope, request id), else this throws; so does a request that gets no answer.
 */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<HttpAnswer> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 20_000;
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        'X-API-Key': options.apiKey ?? DEV_KEY,
        ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `within ${timeoutMs} ms` : String(error);
    throw new NoAnswerError(`${method} ${path}: no answer ${reason}`, { cause: error });
  }
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    headers[name] = value;
  });
  let body: Json = {};
  if (/^application\/json/.test(headers['content-type'] ?? '') && text) body = JSON.parse(text) as Json;
  assertAnswerMatchesContract({ method, path, status: res.status, headers, text, body });
  return { status: res.status, headers, body, ms: Date.now() - started };
}

/** The request got no HTTP answer: the connection failed or the time ran out. */
export class NoAnswerError extends Error {
  override name = 'NoAnswerError';
}

/** What a store fault must look like to a client: 503 UNAVAILABLE with a usable Retry-After. */
export function describeUnavailable(answer: HttpAnswer): string | undefined {
  const error = answer.body.error as Json | undefined;
  const retryAfter = Number(answer.headers['retry-after']);
  if (
    answer.status === 503 &&
    error?.code === 'UNAVAILABLE' &&
    Number.isInteger(retryAfter) &&
    retryAfter > 0
  )
    return undefined;
  return `${answer.status} ${JSON.stringify(answer.body)} (Retry-After ${answer.headers['retry-after']})`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls GET /v1/health until it answers 200; resolves with the time it took. */
export async function waitUntilHealthy(baseUrl: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let last = 'no answer';
  while (Date.now() - started < timeoutMs) {
    const answer = await callApi(baseUrl, 'GET', '/v1/health', { timeoutMs: 5_000 }).catch((error: unknown) =>
      String(error),
    );
    if (typeof answer !== 'string' && answer.status === 200) return Date.now() - started;
    last = typeof answer === 'string' ? answer : `${answer.status} ${JSON.stringify(answer.body)}`;
    await sleep(100);
  }
  throw new Error(`GET /v1/health did not answer 200 within ${timeoutMs} ms; last: ${last}`);
}

export interface IngestBody {
  source: string;
  event_type: string;
  payload: { key: string; nonce: string; filler?: string };
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight. */
export async function inPool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export class IngestLedger {
  readonly bodies = new Map<string, IngestBody>();
  /** Keys answered 201, with the event each named. */
  readonly created = new Map<string, string>();
  /** Keys answered 503 or not at all: maybe written, maybe not, until a retry settles them. */
  readonly indeterminate = new Set<string>();
  /** Broken promises, duplicates and answers no fault explains. */
  readonly problems: string[] = [];
  /** Requests that got no answer at all (each also left its keys indeterminate). */
  unanswered = 0;
  private seq = 0;

  /** `source` tells this ledger's events from any other's; `fillerBytes` pads each payload. */
  constructor(
    readonly source: string,
    private readonly fillerBytes = 0,
  ) {}

  /** Sends a new event with a new idempotency key; a 201, a 503 or no answer are expected. */
  async ingest(baseUrl: string): Promise<HttpAnswer | undefined> {
    return this.send(baseUrl, this.newEvent());
  }

  /**
   * Sends `count` new events in one bulk request, each with its own key in
   * `metadata.idempotency_key` (the same request hash as a single ingest of the same body
   * with that key as its Idempotency-Key header, so either can retry the other).
   */
  async ingestBulk(baseUrl: string, count: number): Promise<HttpAnswer | undefined> {
    const keys = Array.from({ length: count }, () => this.newEvent());
    const items = keys.map((key) => ({ ...this.bodies.get(key), metadata: { idempotency_key: key } }));
    let answer: HttpAnswer;
    try {
      answer = await callApi(baseUrl, 'POST', '/v1/events/bulk', { body: { items } });
    } catch (error) {
      if (!(error instanceof NoAnswerError)) throw error;
      this.unanswered += 1;
      for (const key of keys) this.indeterminate.add(key);
      return undefined;
    }
    if (answer.status === 200) {
      for (const item of answer.body.successful as Array<{ index: number; event_id: string }>)
        this.recordCreated(keys[item.index] as string, item.event_id);
      for (const item of answer.body.failed as Array<{ index: number; error: unknown }>)
        this.problems.push(`bulk item ${keys[item.index]} failed: ${JSON.stringify(item.error)}`);
    } else if (describeUnavailable(answer) === undefined) {
      for (const key of keys) this.indeterminate.add(key);
    } else {
      this.problems.push(`bulk ingest: ${describeUnavailable(answer)}`);
    }
    return answer;
  }

  /** Every 201 is readable with the payload that was sent. */
  async verifyReadable(baseUrl: string): Promise<void> {
    await inPool([...this.created], 8, async ([key, eventId]) => {
      const got = await callApi(baseUrl, 'GET', `/v1/events/${eventId}`);
      const payload = got.body.payload as IngestBody['payload'] | undefined;
      if (got.status !== 200) this.problems.push(`lost ${eventId} (key ${key}): GET answered ${got.status}`);
      else if (JSON.stringify(payload) !== JSON.stringify(this.bodies.get(key)?.payload))
        this.problems.push(`${eventId} (key ${key}) has another payload: ${JSON.stringify(payload)}`);
    });
  }

  /** Retries every indeterminate ingest with its key and body: each must now answer 201. */
  async retryIndeterminate(baseUrl: string): Promise<number> {
    const keys = [...this.indeterminate];
    await inPool(keys, 8, async (key) => {
      const answer = await this.send(baseUrl, key);
      if (answer?.status !== 201)
        this.problems.push(`retry of ${key} answered ${answer?.status ?? 'nothing'}`);
    });
    return keys.length;
  }

  /** Every stored pending event of this source belongs to a key, and is that key's event. */
  async verifyNoExtraEvents(baseUrl: string): Promise<number> {
    let cursor: string | undefined;
    let seen = 0;
    for (let page = 0; page < 1_000; page += 1) {
      const query = `?limit=100&source=${this.source}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const answer = await callApi(baseUrl, 'GET', `/v1/inbox${query}`);
      if (answer.status !== 200)
        throw new Error(`inbox answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      for (const event of answer.body.events as Array<{ event_id: string; payload: { key: string } }>) {
        seen += 1;
        const named = this.created.get(event.payload.key);
        if (named !== event.event_id)
          this.problems.push(`stored ${event.event_id} for key ${event.payload.key}, which names ${named}`);
      }
      const pagination = answer.body.pagination as { next_cursor: string | null; has_more: boolean };
      if (!pagination.has_more || !pagination.next_cursor) break;
      cursor = pagination.next_cursor;
    }
    return seen;
  }

  /** A new key and event body, remembered. */
  private newEvent(): string {
    this.seq += 1;
    const key = `${this.source}-${this.seq}-${randomUUID()}`;
    this.bodies.set(key, {
      source: this.source,
      event_type: 'fault.tick',
      payload: {
        key,
        nonce: randomUUID(),
        ...(this.fillerBytes > 0 ? { filler: randomUUID().repeat(Math.ceil(this.fillerBytes / 36)) } : {}),
      },
    });
    return key;
  }

  private recordCreated(key: string, eventId: string): void {
    const known = this.created.get(key);
    if (known !== undefined && known !== eventId)
      this.problems.push(`key ${key} named ${known}, then ${eventId}`);
    this.created.set(key, eventId);
    this.indeterminate.delete(key);
  }

  private async send(baseUrl: string, key: string): Promise<HttpAnswer | undefined> {
    let answer: HttpAnswer;
    try {
      answer = await callApi(baseUrl, 'POST', '/v1/events', {
        body: this.bodies.get(key),
        headers: { 'Idempotency-Key': key },
      });
    } catch (error) {
      // A contract violation is a finding, not a fault; a lost connection is indeterminate.
      if (!(error instanceof NoAnswerError)) throw error;
      this.unanswered += 1;
      this.indeterminate.add(key);
      return undefined;
    }
    if (answer.status === 201) {
      this.recordCreated(key, answer.body.event_id as string);
    } else if (describeUnavailable(answer) === undefined) {
      this.indeterminate.add(key);
    } else {
      this.problems.push(`ingest ${key}: ${describeUnavailable(answer)}`);
    }
    return answer;
  }
}
