import createClient, { type Client } from 'openapi-fetch';
import { errorFromResponse } from './errors.js';
import type { components, paths } from './generated/triggers.js';
import { SDK_VERSION } from './generated/version.js';
import {
  collectInbox,
  type DeliveryListParams,
  type DeliveryPage,
  type Event,
  type EventListParams,
  type EventPage,
  type InboxPage,
  type InboxParams,
  iterateInbox,
  iteratePages,
  type SubscriptionListParams,
  type SubscriptionPage,
} from './paginate.js';
import { retryingFetch } from './retry.js';

type Schemas = components['schemas'];

/**
 * A subscription as `subscriptions.list` and `subscriptions.get` show it: never its `secret`.
 *
 * @example
 * const subscription: Subscription = await triggers.subscriptions.get('sub_01936f7e5a3b7c419d2e3f4a5b6c7d8e');
 * if (subscription.status === 'disabled') console.log('disabled:', subscription.disabled_reason);
 */
export type Subscription = Schemas['Subscription'];

/**
 * What `subscriptions.create` takes, as the API names it: `target_url` (required), and
 * optionally `event_types` (exact types or prefixes ending in `.*`), `sources` and
 * `description`. No `event_types` nor `sources` means every event.
 *
 * @example
 * const input: SubscriptionInput = { target_url: 'https://hooks.example.com/triggers', event_types: ['order.*'] };
 */
export type SubscriptionInput = Schemas['SubscriptionInput'];

/**
 * One attempt to deliver one event to a subscription: `outcome` `succeeded`, `retrying`
 * (`next_attempt_at` says when) or `failed`.
 *
 * @example
 * for await (const attempt of triggers.subscriptions.deliveries('sub_01936f7e5a3b7c419d2e3f4a5b6c7d8e')) {
 *   if (attempt.outcome !== 'succeeded') console.log(attempt.event_id, attempt.status_code, attempt.error);
 * }
 */
export type DeliveryAttempt = Schemas['DeliveryAttempt'];

/**
 * What `events.create` answers: the event's `event_id`, `created_at`, `status`, `expires_at`,
 * the `request_id`, and `replayed`: `true` when the idempotency key had stored the event
 * before (the API's `Idempotent-Replayed: true`), so this call stored nothing new. That
 * includes the SDK's own retry of a create whose first answer was lost.
 *
 * @example
 * const created: CreatedEvent = await triggers.events.create(input, { idempotencyKey: 'order.created:ord_1' });
 * if (created.replayed) console.log('sent before, as', created.event_id);
 */
export type CreatedEvent = Schemas['EventCreated'] & { replayed: boolean };

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
 * An event as `inbox.lease` hands it out: the event, and `lease` (`lease_id`, `leased_until`).
 *
 * @example
 * const { events } = await triggers.inbox.lease();
 * for (const event of events) console.log(event.event_id, event.delivery_count, event.lease.leased_until);
 */
export type LeasedEvent = Schemas['LeasedEvent'];

/**
 * What `inbox.lease` takes, as the API names it; every field is optional and the server's
 * defaults apply: `limit` 1–100 (10), `visibility_timeout` seconds 1–43,200 (30), `wait`
 * seconds 0–20 (0), and the filters `source`, `event_type`, `priority`.
 *
 * @example
 * const params: LeaseParams = { limit: 25, visibility_timeout: 120, wait: 20, priority: 'high' };
 */
export type LeaseParams = Partial<Schemas['LeaseInput']>;

export interface LeaseRequestOptions {
  /** Ends a waiting lease early (the request is aborted, and the call rejects with the reason). */
  signal?: AbortSignal;
}

export interface AckOptions {
  /**
   * The `lease.lease_id` the event was leased with: the ack then holds only while that is the
   * event's latest lease (else `ConflictError`, `details.reason: 'lease_mismatch'`), and it is
   * retried on network errors, 429 and 5xx, since a repeated ack under the same lease answers
   * the first ack's result.
   */
  leaseId?: string;
}

export interface NackOptions {
  /** The `lease.lease_id` the event was leased with. */
  leaseId: string;
  /** Seconds before the event is available again, 0–43,200 (default 0). */
  delay?: number;
}

export interface ExtendOptions {
  /** The `lease.lease_id` the event was leased with. */
  leaseId: string;
  /** Seconds from now the lease runs until, 1–43,200; one lease lives at most 12 hours in all. */
  visibilityTimeout: number;
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
  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const retry = { maxRetries: options.maxRetries ?? 2, timeoutMs: options.timeoutMs ?? 30_000 };
  // Ack with a lease id, nack and extend repeat harmlessly (the server answers a repeat as it
  // answered the first), so they are retried like GETs although they are POSTs without an
  // Idempotency-Key; every other POST keeps the default rule.
  const retrySafeFetch = retryingFetch(baseFetch, { ...retry, retrySafe: true });
  const raw: Client<paths> = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: retryingFetch(baseFetch, retry),
    headers: {
      'X-API-Key': options.apiKey,
      'X-Triggers-Client': `triggers-sdk-js/${SDK_VERSION}${options.userAgent ? ` ${options.userAgent}` : ''}`,
    },
  });

  const listPage = async (params: InboxParams & { cursor?: string } = {}): Promise<InboxPage> =>
    unwrap(await raw.GET('/v1/inbox', { params: { query: params } }));
  const listEventsPage = async (params: EventListParams & { cursor?: string } = {}): Promise<EventPage> =>
    unwrap(await raw.GET('/v1/events', { params: { query: params } }));
  const listSubscriptionsPage = async (
    params: SubscriptionListParams & { cursor?: string } = {},
  ): Promise<SubscriptionPage> => unwrap(await raw.GET('/v1/subscriptions', { params: { query: params } }));
  const listDeliveriesPage = async (
    subscriptionId: string,
    params: DeliveryListParams & { cursor?: string } = {},
  ): Promise<DeliveryPage> =>
    unwrap(
      await raw.GET('/v1/subscriptions/{subscription_id}/deliveries', {
        params: { path: { subscription_id: subscriptionId }, query: params },
      }),
    );

  return {
    /** The typed openapi-fetch client: `{ data, error, response }`, no throwing. */
    raw,
    events: {
      /**
       * Ingests one event; retried safely with one idempotency key for all attempts.
       * `replayed` is `true` when that key had stored the event already.
       */
      async create(input: Schemas['EventInput'], requestOptions: RequestOptions = {}): Promise<CreatedEvent> {
        // A key in the metadata is the event's own: send it as the header too (they must agree).
        const key = requestOptions.idempotencyKey ?? input.metadata?.idempotency_key ?? newIdempotencyKey();
        const result = await raw.POST('/v1/events', {
          body: input,
          params: { header: { 'Idempotency-Key': key } },
        });
        const replayed = result.response.headers.get('idempotent-replayed') === 'true';
        return { ...unwrap(result), replayed };
      },
      /** Ingests 1 to 100 events; each item succeeds or fails on its own (`successful[].replayed`). */
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
      /**
       * Acknowledges a pending event; `ConflictError` when it is not pending. With `leaseId`,
       * only while that is the event's latest lease, and retried like a GET (a repeat that
       * finds the event acknowledged under the same lease answers 200 with the first
       * `acknowledged_at`). Without it, it is sent once: a repeat would answer 409.
       *
       * @example
       * const [event] = (await triggers.inbox.lease({ limit: 1 })).events;
       * if (event) await triggers.events.ack(event.event_id, { leaseId: event.lease.lease_id });
       */
      async ack(eventId: string, ackOptions: AckOptions = {}): Promise<Schemas['AckResult']> {
        const path = { event_id: eventId };
        if (ackOptions.leaseId === undefined) {
          return unwrap(await raw.POST('/v1/events/{event_id}/ack', { params: { path } }));
        }
        return unwrap(
          await raw.POST('/v1/events/{event_id}/ack', {
            params: { path },
            body: { lease_id: ackOptions.leaseId },
            fetch: retrySafeFetch,
          }),
        );
      },
      /**
       * Gives a leased event back: it is available again after `delay` seconds (default 0).
       * Only the event's latest lease may nack it (else `ConflictError`, `lease_mismatch`); an
       * event that has used all its deliveries becomes `dead` instead (`status: 'dead'`).
       * Retried on network errors, 429 and 5xx: a repeat sets the same again. (If another
       * worker leased the event in between, the repeat answers `ConflictError`: the first
       * nack got through.)
       *
       * @example
       * const [event] = (await triggers.inbox.lease({ limit: 1 })).events;
       * if (event) await triggers.events.nack(event.event_id, { leaseId: event.lease.lease_id, delay: 60 });
       */
      async nack(eventId: string, nackOptions: NackOptions): Promise<Schemas['NackResult']> {
        const body: Partial<Schemas['NackInput']> = { lease_id: nackOptions.leaseId };
        if (nackOptions.delay !== undefined) body.delay = nackOptions.delay;
        return unwrap(
          await raw.POST('/v1/events/{event_id}/nack', {
            params: { path: { event_id: eventId } },
            // `delay` has a server-side default, which the generated type marks as required.
            body: body as Schemas['NackInput'],
            fetch: retrySafeFetch,
          }),
        );
      },
      /**
       * Keeps a lease while the work goes on: `leased_until` becomes now + `visibilityTimeout`
       * seconds. Only the event's latest lease may extend it; one lease lives at most 12 hours
       * (`ConflictError` with `details.reason: 'lease_too_long'` beyond). Retried on network
       * errors, 429 and 5xx: a repeat sets the lease again.
       *
       * @example
       * const [event] = (await triggers.inbox.lease({ limit: 1, visibility_timeout: 30 })).events;
       * if (event) await triggers.events.extend(event.event_id, { leaseId: event.lease.lease_id, visibilityTimeout: 120 });
       */
      async extend(eventId: string, extendOptions: ExtendOptions): Promise<Schemas['ExtendResult']> {
        return unwrap(
          await raw.POST('/v1/events/{event_id}/extend', {
            params: { path: { event_id: eventId } },
            body: { lease_id: extendOptions.leaseId, visibility_timeout: extendOptions.visibilityTimeout },
            fetch: retrySafeFetch,
          }),
        );
      },
      /**
       * Makes an acknowledged or dead event pending again, with `delivery_count` 0;
       * `ConflictError` when it is pending already. Sent once (a repeat could deliver it twice).
       *
       * @example
       * for await (const dead of triggers.events.list({ status: 'dead' })) await triggers.events.redeliver(dead.event_id);
       */
      async redeliver(eventId: string): Promise<Schemas['RedeliverResult']> {
        return unwrap(
          await raw.POST('/v1/events/{event_id}/redeliver', { params: { path: { event_id: eventId } } }),
        );
      },
      /**
       * Redelivers 1 to 100 events; each id succeeds or fails on its own.
       *
       * @example
       * const { successful, failed } = await triggers.events.redeliverMany(['01936f7e-5a3b-7c41-9d2e-3f4a5b6c7d8e']);
       */
      async redeliverMany(eventIds: string[]): Promise<Schemas['BulkRedeliverResult']> {
        return unwrap(await raw.POST('/v1/events/bulk/redeliver', { body: { event_ids: eventIds } }));
      },
      /**
       * Every unexpired event of the tenant whatever its status, **newest first** unless
       * `order: 'asc'`, following cursors: `for await (const e of …)`. It changes nothing (no
       * lease, no ack). Filters: `status`, `source`, `event_type`, `created_after`,
       * `created_before`; `limit` (1–100, default 50) is the page size.
       *
       * @example
       * for await (const event of triggers.events.list({ status: 'dead' })) console.log(event.event_id);
       */
      list: (params: EventListParams = {}): AsyncGenerator<Event, void, undefined> =>
        iteratePages(listEventsPage, params, (page) => page.events),
      /**
       * One page of `GET /v1/events`; pass `cursor` (the previous page's `next_cursor`) for
       * the next.
       *
       * @example
       * const newest = await triggers.events.listPage({ limit: 10 });
       * console.log(newest.events.map((event) => event.event_id), newest.pagination.has_more);
       */
      listPage: listEventsPage,
      /** Acknowledges 1 to 100 events; each id succeeds or fails on its own. */
      async ackMany(eventIds: string[]): Promise<Schemas['BulkAckResult']> {
        return unwrap(await raw.POST('/v1/events/bulk/ack', { body: { event_ids: eventIds } }));
      },
    },
    inbox: {
      /**
       * Leases up to `limit` available events, oldest first: no other lease gets them until
       * `leased_until` (now + `visibility_timeout` seconds). Ack each with its `lease.lease_id`
       * when done, `nack` it to give it back, or `extend` the lease. With `wait` (seconds, up to
       * 20) and nothing available, the server holds the request until an event arrives or
       * `wait` runs out (then `events` is empty). Sent once: a lost answer leaves its events
       * leased until their timeout, and then they come back. `consume()` runs this loop for you.
       *
       * @example
       * const { events } = await triggers.inbox.lease({ limit: 10, visibility_timeout: 60, wait: 20 });
       * for (const event of events) await triggers.events.ack(event.event_id, { leaseId: event.lease.lease_id });
       */
      async lease(
        params: LeaseParams = {},
        requestOptions: LeaseRequestOptions = {},
      ): Promise<Schemas['LeaseResult']> {
        // A waiting lease answers after up to `wait` seconds by design: the attempt's time
        // limit is counted from when the server may answer, not from when it was asked.
        const wait = typeof params.wait === 'number' && params.wait > 0 ? params.wait : 0;
        return unwrap(
          await raw.POST('/v1/inbox/lease', {
            // Unset fields take the server's defaults, which the generated type marks as required.
            body: params as Schemas['LeaseInput'],
            signal: requestOptions.signal,
            fetch: wait
              ? retryingFetch(baseFetch, { ...retry, timeoutMs: retry.timeoutMs + wait * 1000 })
              : undefined,
          }),
        );
      },
      /** One page; pass `cursor` (the previous page's `next_cursor`) for the next. */
      list: listPage,
      /** Every pending event, oldest first, following cursors: `for await (const e of …)`. */
      iterate: (params: InboxParams = {}): AsyncGenerator<Event, void, undefined> =>
        iterateInbox(listPage, params),
      /** Up to `max` pending events in an array (`max` is required, at most 10,000). */
      toArray: ({ max, ...params }: InboxParams & { max: number }): Promise<Event[]> =>
        collectInbox(iterateInbox(listPage, params), max),
    },
    /**
     * Webhooks (REST hooks): the API POSTs each new event that matches a subscription to its
     * `target_url`, signed with the subscription's secret; check each request with
     * `verifyWebhook`. These calls need a key with the `subscriptions:manage` scope.
     */
    subscriptions: {
      /**
       * Subscribes `target_url` to every event created from now on that matches `event_types`
       * and `sources` (none given: every event). The answer holds the `secret` that signs the
       * webhooks, shown only this once: keep it where the receiver can read it. Sent once (the
       * API takes no idempotency key here, so a repeat could subscribe twice); a tenant has at
       * most 50 subscriptions (`ConflictError`, `details.reason: 'too_many_subscriptions'`).
       *
       * @example
       * const { subscription_id, secret } = await triggers.subscriptions.create({
       *   target_url: 'https://hooks.example.com/triggers',
       *   event_types: ['order.*'],
       * });
       */
      async create(input: SubscriptionInput): Promise<Schemas['SubscriptionCreated']> {
        return unwrap(await raw.POST('/v1/subscriptions', { body: input }));
      },
      /**
       * Every subscription of the tenant, **newest first**, following cursors:
       * `for await (const s of …)`. `limit` (1–100, default 50) is the page size. No secrets.
       *
       * @example
       * for await (const subscription of triggers.subscriptions.list()) console.log(subscription.target_url);
       */
      list: (params: SubscriptionListParams = {}): AsyncGenerator<Subscription, void, undefined> =>
        iteratePages(listSubscriptionsPage, params, (page) => page.subscriptions),
      /**
       * One page of `GET /v1/subscriptions`; pass `cursor` (the previous page's `next_cursor`)
       * for the next.
       *
       * @example
       * const page = await triggers.subscriptions.listPage({ limit: 10 });
       * console.log(page.subscriptions.length, page.pagination.has_more);
       */
      listPage: listSubscriptionsPage,
      /**
       * One subscription, without its secret; `NotFoundError` when there is none (deleted, or
       * another tenant's). `status` is `disabled` once the target answered `410 Gone` or failed
       * for 5 days (`disabled_reason`).
       *
       * @example
       * const { status, disabled_reason } = await triggers.subscriptions.get('sub_01936f7e5a3b7c419d2e3f4a5b6c7d8e');
       */
      async get(subscriptionId: string): Promise<Schemas['SubscriptionResponse']> {
        return unwrap(
          await raw.GET('/v1/subscriptions/{subscription_id}', {
            params: { path: { subscription_id: subscriptionId } },
          }),
        );
      },
      /**
       * Unsubscribes: no delivery starts after the answer. Deleting one that is gone is not an
       * error.
       *
       * @example
       * await triggers.subscriptions.delete('sub_01936f7e5a3b7c419d2e3f4a5b6c7d8e');
       */
      async delete(subscriptionId: string): Promise<void> {
        unwrap(
          await raw.DELETE('/v1/subscriptions/{subscription_id}', {
            params: { path: { subscription_id: subscriptionId } },
          }),
        );
      },
      /**
       * The subscription's delivery log, one entry per attempt, **newest first**, following
       * cursors: `for await (const attempt of …)`. `limit` (1–100, default 50) is the page
       * size; `NotFoundError` when there is no such subscription.
       *
       * @example
       * for await (const attempt of triggers.subscriptions.deliveries('sub_01936f7e5a3b7c419d2e3f4a5b6c7d8e')) {
       *   console.log(attempt.attempted_at, attempt.event_id, attempt.outcome, attempt.status_code);
       * }
       */
      deliveries: (
        subscriptionId: string,
        params: DeliveryListParams = {},
      ): AsyncGenerator<DeliveryAttempt, void, undefined> =>
        iteratePages(
          (pageParams: DeliveryListParams & { cursor?: string }) =>
            listDeliveriesPage(subscriptionId, pageParams),
          params,
          (page) => page.deliveries,
        ),
      /**
       * One page of the delivery log; pass `cursor` (the previous page's `next_cursor`) for the
       * next.
       *
       * @example
       * const latest = await triggers.subscriptions.deliveriesPage('sub_01936f7e5a3b7c419d2e3f4a5b6c7d8e', { limit: 5 });
       * console.log(latest.deliveries.map((attempt) => attempt.outcome));
       */
      deliveriesPage: listDeliveriesPage,
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
