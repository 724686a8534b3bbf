import { createHmac, randomBytes } from 'node:crypto';
import { defaultNackDelay, type LeasedEvent, type LeaseParams } from '@triggers-api/sdk';
import { CLIENT_NAME, type Context } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { HeldLeases, leaseOnce } from '../leases.js';
import type { Output } from '../output.js';
import { stopOnSignals } from '../stop.js';

export interface ListenOptions {
  forwardTo: string;
  source?: string;
  secret?: string;
  /** Exit 0 after this many deliveries, whatever their outcome. */
  max?: number;
}

const SECRET_PREFIX = 'whsec_';
/** As the API's webhooks: a 2xx within 15 s is success. */
const POST_TIMEOUT_MS = 15_000;

/** A new signing secret, as the API makes for a subscription: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** The secret's key bytes (the base64 after `whsec_`); a usage error when it is not one. */
function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : '';
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0 || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
    throw new UsageError('--secret must be whsec_ followed by base64, e.g. one that triggers listen printed');
  }
  return key;
}

/**
 * Standard Webhooks headers for one attempt, signed as the API signs its webhooks (DESIGN
 * §11): `v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`.
 */
export function signedHeaders(
  key: Buffer,
  eventId: string,
  body: string,
  now = Date.now(),
): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  const signature = createHmac('sha256', key).update(`${eventId}.${timestamp}.${body}`).digest('base64');
  return {
    'content-type': 'application/json',
    'user-agent': CLIENT_NAME,
    'webhook-id': eventId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  };
}

interface Delivery {
  time: string;
  event_id: string;
  event_type: string;
  status_code: number | null;
  duration_ms: number;
  result: 'acked' | 'nacked';
  /** Seconds until a nacked event comes back. */
  retry_in?: number;
  error?: string;
}

/**
 * Like `stripe listen`: leases events one at a time and POSTs each to `--forward-to`, signed
 * with the secret it printed at start (or `--secret`), as the API's webhooks are; acks the
 * event on a 2xx, nacks it otherwise so that it comes back (after 1, 2, 4… s, the SDK's
 * defaultNackDelay; dead after the server's TRIGGERS_MAX_DELIVERIES). One line per delivery.
 * Ctrl-C exits 130 (SIGTERM 143) after giving back the event it holds; `--max N` exits 0
 * after N deliveries.
 */
export async function listen(ctx: Context, options: ListenOptions): Promise<number> {
  const { out } = ctx;
  if (!/^https?:\/\/[^/]/.test(options.forwardTo)) {
    throw new UsageError(`--forward-to must be an http(s) URL, got ${options.forwardTo}`);
  }
  const secret = options.secret ?? ctx.io.env.TRIGGERS_WEBHOOK_SECRET ?? newWebhookSecret();
  const key = secretKey(secret);
  const client = ctx.client();
  const stopper = stopOnSignals();
  const held = new HeldLeases(client, out);
  const params: LeaseParams = { limit: 1 };
  if (options.source) params.source = options.source;
  out.note(
    `Ready! Forwarding events to ${options.forwardTo}. Your webhook signing secret is ${out.paintErr.bold(secret)} (^C to quit)`,
  );
  let delivered = 0;
  const done = () => options.max !== undefined && delivered >= options.max;
  try {
    while (!stopper.signal.aborted && !done()) {
      const events = await leaseOnce(client, params, stopper.signal, out);
      if (!events) break;
      for (const event of events) held.add(event);
      for (const event of events) {
        if (stopper.signal.aborted) break;
        const delivery = await forward(options.forwardTo, key, event, stopper.signal);
        // Cut by Ctrl-C: not the target's answer; giveBack returns the event with no delay.
        if (stopper.signal.aborted && delivery.status_code === null) break;
        try {
          if (delivery.result === 'acked') {
            await client.events.ack(event.event_id, { leaseId: event.lease.lease_id });
          } else {
            const delay = delivery.retry_in ?? 0;
            await client.events.nack(event.event_id, { leaseId: event.lease.lease_id, delay });
          }
        } catch (error) {
          // The lease runs out on its own and the event comes back: worth a warning, not an exit.
          const what = delivery.result === 'acked' ? 'ack' : 'nack';
          out.note(
            `${out.paintErr.yellow('warning')} ${what} of ${event.event_id} failed: ${(error as Error).message}`,
          );
        }
        held.release(event);
        printDelivery(out, delivery);
        delivered += 1;
        if (done()) break;
      }
    }
  } finally {
    await held.giveBack();
    stopper.dispose();
  }
  return stopper.exitCode() ?? EXIT.ok;
}

async function forward(url: string, key: Buffer, leased: LeasedEvent, stop: AbortSignal): Promise<Delivery> {
  // The body is the event as GET /v1/events/{id} shows it, as the API's webhooks send it.
  const { lease: _lease, ...event } = leased;
  const body = JSON.stringify(event);
  const started = performance.now();
  const time = new Date().toISOString();
  let statusCode: number | null = null;
  let error: string | undefined;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: signedHeaders(key, leased.event_id, body),
      body,
      redirect: 'manual',
      signal: AbortSignal.any([stop, AbortSignal.timeout(POST_TIMEOUT_MS)]),
    });
    statusCode = response.status;
    await response.arrayBuffer().catch(() => undefined);
  } catch (cause) {
    const reason =
      cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
    error = reason;
  }
  const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
  const delivery: Delivery = {
    time,
    event_id: leased.event_id,
    event_type: leased.event_type,
    status_code: statusCode,
    duration_ms: Math.round(performance.now() - started),
    result: ok ? 'acked' : 'nacked',
  };
  if (!ok) delivery.retry_in = defaultNackDelay(leased);
  if (error !== undefined) delivery.error = error;
  return delivery;
}

function printDelivery(out: Output, delivery: Delivery): void {
  if (out.json) {
    out.value(delivery, { compact: true });
    return;
  }
  const { paint } = out;
  const status =
    delivery.status_code === null
      ? paint.red(`error (${delivery.error ?? 'no answer'})`)
      : delivery.result === 'acked'
        ? paint.green(String(delivery.status_code))
        : paint.red(String(delivery.status_code));
  const result = delivery.result === 'acked' ? 'acked' : `nacked, back in ${delivery.retry_in ?? 0} s`;
  out.line(
    [
      paint.dim(delivery.time),
      paint.bold(delivery.event_id),
      paint.cyan(delivery.event_type),
      `-> ${status}`,
      `${delivery.duration_ms} ms`,
      result,
    ].join('  '),
  );
}
