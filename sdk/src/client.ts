import createClient, { type Client } from 'openapi-fetch';
import { errorFromResponse } from './errors.js';
import type { components, paths } from './generated/triggers.js';
import { SDK_VERSION } from './generated/version.js';
import { collectInbox, type Event, type InboxPage, type InboxParams, iterateInbox } from './paginate.js';
import { retryingFetch } from './retry.js';

type Schemas = components['schemas'];

export interface TriggersClientOptions {
  /** Where the API is, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** `tk_…`, sent as `X-API-Key`. */
  apiKey: string;
  /** A fetch of your own (defaults to the global one). */
  fetch?: typeof fetch;
  /** Retries after the first attempt for network errors, timeouts, 429 and 5xx (default 2). */
  maxRetries?: number;
  /** Time one attempt may take (default 30 000 ms). */
  timeoutMs?: number;
  /** Added to the SDK's own `X-Triggers-Client` header, e.g. `my-app/1.2`. */
  userAgent?: string;
}

export interface RequestOptions {
  /** Reuse it to retry safely yourself; the SDK makes one per call otherwise. */
  idempotencyKey?: string;
}

/**
 * A client for the Triggers API. Helpers throw `TriggersApiError` subclasses and
 * `TriggersConnectionError`; `raw` is the typed openapi-fetch client for anything else.
 *
 * @example
 * const triggers = createTriggersClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.TRIGGERS_API_KEY! });
 * const { event_id } = await triggers.events.create({ source: 'shop', event_type: 'order.created', payload: { id: 1 } });
 * for await (const event of triggers.inbox.iterate({ limit: 50 })) await triggers.events.ack(event.event_id);
 */
export function createTriggersClient(options: TriggersClientOptions) {
  const raw: Client<paths> = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: retryingFetch(options.fetch ?? globalThis.fetch.bind(globalThis), {
      maxRetries: options.maxRetries ?? 2,
      timeoutMs: options.timeoutMs ?? 30_000,
    }),
    headers: {
      'X-API-Key': options.apiKey,
      'X-Triggers-Client': `triggers-sdk-js/${SDK_VERSION}${options.userAgent ? ` ${options.userAgent}` : ''}`,
    },
  });

  const listPage = async (params: InboxParams & { cursor?: string } = {}): Promise<InboxPage> =>
    unwrap(await raw.GET('/v1/inbox', { params: { query: params } }));

  return {
    /** The typed openapi-fetch client: `{ data, error, response }`, no throwing. */
    raw,
    events: {
      /** Ingests one event; retried safely with one idempotency key for all attempts. */
      async create(
        input: Schemas['EventInput'],
        requestOptions: RequestOptions = {},
      ): Promise<Schemas['EventCreated']> {
        // A key in the metadata is the event's own: send it as the header too (they must agree).
        const key = requestOptions.idempotencyKey ?? input.metadata?.idempotency_key ?? newIdempotencyKey();
        return unwrap(
          await raw.POST('/v1/events', { body: input, params: { header: { 'Idempotency-Key': key } } }),
        );
      },
      /** Ingests 1 to 100 events; each item succeeds or fails on its own. */
      async createMany(
        items: Schemas['EventInput'][],
        requestOptions: RequestOptions = {},
      ): Promise<Schemas['BulkEventsResult']> {
        const key = requestOptions.idempotencyKey ?? newIdempotencyKey();
        return unwrap(
          await raw.POST('/v1/events/bulk', {
            body: { items },
            params: { header: { 'Idempotency-Key': key } },
          }),
        );
      },
      async get(eventId: string): Promise<Schemas['EventResponse']> {
        return unwrap(await raw.GET('/v1/events/{event_id}', { params: { path: { event_id: eventId } } }));
      },
      /** Deletes the event; deleting one that is gone is not an error. */
      async delete(eventId: string): Promise<void> {
        unwrap(await raw.DELETE('/v1/events/{event_id}', { params: { path: { event_id: eventId } } }));
      },
      /** Acknowledges a pending event; `ConflictError` when it is not pending. */
      async ack(eventId: string): Promise<Schemas['AckResult']> {
        return unwrap(
          await raw.POST('/v1/events/{event_id}/ack', { params: { path: { event_id: eventId } } }),
        );
      },
      /** Acknowledges 1 to 100 events; each id succeeds or fails on its own. */
      async ackMany(eventIds: string[]): Promise<Schemas['BulkAckResult']> {
        return unwrap(await raw.POST('/v1/events/bulk/ack', { body: { event_ids: eventIds } }));
      },
    },
    inbox: {
      /** One page; pass `cursor` (the previous page's `next_cursor`) for the next. */
      list: listPage,
      /** Every pending event, oldest first, following cursors: `for await (const e of …)`. */
      iterate: (params: InboxParams = {}): AsyncGenerator<Event, void, undefined> =>
        iterateInbox(listPage, params),
      /** Up to `max` pending events in an array (`max` is required, at most 10,000). */
      toArray: ({ max, ...params }: InboxParams & { max: number }): Promise<Event[]> =>
        collectInbox(iterateInbox(listPage, params), max),
    },
    /** The calling key's tenant, id, source and scopes. */
    async me(): Promise<Schemas['Me']> {
      return unwrap(await raw.GET('/v1/me'));
    },
  };
}

export type TriggersClient = ReturnType<typeof createTriggersClient>;

function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (!result.response.ok) throw errorFromResponse(result.response, result.error);
  return result.data as T;
}

/** A random UUID, from Web Crypto where there is one (every browser, Node 19+). */
function newIdempotencyKey(): string {
  const crypto = globalThis.crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
