import { WebhookVerificationError as StandardWebhooksError, Webhook } from 'standardwebhooks';
import type { operations } from './generated/triggers.js';

/**
 * What a webhook carries: the event as `GET /v1/events/{event_id}` shows it, without
 * `request_id` (the body of the contract's `webhooks.event`).
 *
 * @example
 * const event: WebhookEvent = verifyWebhook(secret, request.headers, await request.text());
 * console.log(event.event_id, event.event_type, event.payload);
 */
export type WebhookEvent = operations['receiveEvent']['requestBody']['content']['application/json'];

/**
 * A request's headers: a `Headers` (fetch, Next.js, Hono, Deno, Bun) or a plain object such as
 * Node's `req.headers`. Names are matched case-insensitively.
 *
 * @example
 * const headers: WebhookHeaders = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
 */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/**
 * A webhook request that is not what the Triggers API sent: a header is missing, the
 * timestamp is more than 5 minutes from this machine's clock, or no signature matches the
 * body. Answer it with a `400` and do not act on the body.
 *
 * @example
 * try {
 *   verifyWebhook(secret, headers, rawBody);
 * } catch (error) {
 *   if (error instanceof WebhookVerificationError) console.warn('refused a webhook:', error.message);
 *   else throw error;
 * }
 */
export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The largest gap between `webhook-timestamp` and this machine's clock (Standard Webhooks'). */
const TOLERANCE_SECONDS = 5 * 60;

const HEADER_NAMES = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/**
 * Checks that a webhook request comes from the Triggers API and returns its event. It
 * verifies the [Standard Webhooks](https://www.standardwebhooks.com/) headers with the
 * `standardwebhooks` library: `webhook-signature` must hold a `v1,` HMAC-SHA256 of
 * `{webhook-id}.{webhook-timestamp}.{body}` keyed with the subscription's `secret`, and
 * `webhook-timestamp` must be within 5 minutes of this machine's clock (older requests are
 * refused as possible replays).
 *
 * `body` must be the **raw** request body, exactly the bytes received (a string, or a
 * `Buffer`/`Uint8Array` read as UTF-8): JSON that was parsed and serialized again is not the
 * signed text. In Express use `express.raw({ type: 'application/json' })` on the route, not
 * `express.json()`; with fetch-style requests use `await request.text()`.
 *
 * The same event may arrive more than once (`webhook-id` is the event id on every attempt):
 * de-duplicate by `event.event_id`.
 *
 * @param secret The subscription's `whsec_…` secret, as `subscriptions.create` answered it.
 * @param headers The request's headers (`Headers` or a plain object, any case).
 * @param body The raw request body.
 * @returns The event the webhook carries.
 * @throws {WebhookVerificationError} When the request is not one the API signed with `secret`.
 * @throws {TypeError} When `secret` is not a `whsec_` secret or `body` is not a string or bytes
 *   (a parsed object, say): a mistake of the receiver's code rather than of the request.
 *
 * @example
 * // A fetch-style handler (Next.js route, Hono, Deno, Bun, Cloudflare Workers)
 * async function receive(request: Request): Promise<Response> {
 *   let event: WebhookEvent;
 *   try {
 *     event = verifyWebhook(process.env.TRIGGERS_WEBHOOK_SECRET!, request.headers, await request.text());
 *   } catch (error) {
 *     if (error instanceof WebhookVerificationError) return new Response(error.message, { status: 400 });
 *     throw error;
 *   }
 *   console.log('received', event.event_type, event.event_id);
 *   return new Response(null, { status: 204 });
 * }
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
): WebhookEvent {
  const webhook = signer(secret);
  const text = bodyText(body);
  const values = HEADER_NAMES.map((name) => header(headers, name));
  const missing = HEADER_NAMES.filter((_name, index) => !values[index]);
  if (missing.length > 0) {
    throw new WebhookVerificationError(
      `The webhook request lacks the header${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`,
    );
  }
  const [id, timestamp, signature] = values as [string, string, string];
  checkTimestamp(timestamp);
  try {
    webhook.verify(
      text,
      { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
      { jsonParse: false },
    );
  } catch (error) {
    if (!(error instanceof StandardWebhooksError)) throw error;
    throw new WebhookVerificationError(
      error.message === 'No matching signature found'
        ? 'No signature in webhook-signature matches the body: the secret is not this ' +
            "subscription's, or the body is not the raw body as received (parse it only after verifying)."
        : `The webhook request did not verify: ${error.message}.`,
      { cause: error },
    );
  }
  return parseEvent(text);
}

function signer(secret: string): Webhook {
  if (typeof secret !== 'string' || !secret.startsWith('whsec_')) {
    throw new TypeError("verifyWebhook needs the subscription's secret, a string that starts with whsec_.");
  }
  try {
    return new Webhook(secret);
  } catch (error) {
    throw new TypeError("verifyWebhook needs the subscription's secret: whsec_ and base64.", {
      cause: error,
    });
  }
}

function bodyText(body: string | Uint8Array): string {
  if (typeof body === 'string') return body;
  // Keep a byte order mark: the signature covers it if it was sent.
  if (body instanceof Uint8Array) return new TextDecoder('utf-8', { ignoreBOM: true }).decode(body);
  throw new TypeError(
    `verifyWebhook needs the raw request body as a string or bytes, got ${body === null ? 'null' : typeof body}: ` +
      "read it unparsed (express.raw({ type: 'application/json' }), or await request.text()).",
  );
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  // Any Headers-like object (the global one, undici's, node-fetch's): a plain object's values
  // are strings, never functions.
  if (typeof headers.get === 'function') return (headers as Headers).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    // Node joins repeated headers into an array only for a few names; space-separated is how
    // webhook-signature lists several signatures.
    return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}

function checkTimestamp(timestamp: string): void {
  if (!/^\d{1,15}$/.test(timestamp)) {
    throw new WebhookVerificationError(
      `webhook-timestamp is not a time in unix seconds: ${JSON.stringify(timestamp)}.`,
    );
  }
  const skew = Math.floor(Date.now() / 1000) - Number(timestamp);
  if (Math.abs(skew) > TOLERANCE_SECONDS) {
    throw new WebhookVerificationError(
      `webhook-timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'in the past' : 'in the future'}; more than ` +
        `${TOLERANCE_SECONDS} s from this machine's clock is refused as a possible replay (or a clock is wrong).`,
    );
  }
}

function parseEvent(text: string): WebhookEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new WebhookVerificationError('The signed body is not JSON.', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new WebhookVerificationError('The signed body is not an event object.');
  }
  return parsed as WebhookEvent;
}
