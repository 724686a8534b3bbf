/**
 * The webhook numbers of `npm run bench` (issue 14): how fast the in-process deliverer drains
 * a backlog of due deliveries into a local receiver, and how long an event takes from its
 * ingest request to the receiver at a steady 200 events/s. Both over real HTTP with real
 * server processes; scripts/bench.ts starts them and puts the results next to its own.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import { openSqliteDatabase } from '../server/src/store/sqlite/database';
import { SqliteEventStore } from '../server/src/store/sqlite/event-store';
import { SqliteWebhookStore } from '../server/src/store/sqlite/webhook-store';
import { newWebhookSecret } from '../server/src/webhooks/signature';

const API_KEY = 'test-api-key-12345';
const TENANT = 'local';

/** A receiver in this process that answers 204 at once and notes when each webhook came. */
export interface BenchReceiver {
  url: string;
  /** performance.now() of each webhook received, by webhook-id. */
  arrivals: Map<string, number>;
  received: number;
  close(): Promise<void>;
}

export async function startBenchReceiver(): Promise<BenchReceiver> {
  const receiver: BenchReceiver = { url: '', arrivals: new Map(), received: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      receiver.received += 1;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string' && !receiver.arrivals.has(id)) receiver.arrivals.set(id, performance.now());
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/**
 * Writes, straight into the SQLite file a server will then open, one subscription to
 * `targetUrl` and `count` events for it: `count` due deliveries waiting for the deliverer.
 */
export async function seedDeliveryBacklog(file: string, count: number, targetUrl: string): Promise<void> {
  const db = openSqliteDatabase(file);
  const events = new SqliteEventStore(db, { clock: Date.now, sweepIntervalMs: 0 });
  const webhooks = new SqliteWebhookStore(db, { clock: Date.now });
  try {
    await webhooks.createSubscription({
      tenantId: TENANT,
      subscriptionId: `sub_${uuidv7().replaceAll('-', '')}`,
      targetUrl,
      eventTypes: [],
      sources: [],
      description: 'bench',
      status: 'active',
      disabledReason: null,
      secret: newWebhookSecret(),
      createdAt: Date.now(),
      failingSince: null,
    });
    for (let done = 0; done < count; done += 500) {
      const batch: Promise<unknown>[] = [];
      for (let i = done; i < Math.min(count, done + 500); i += 1) {
        const now = Date.now();
        batch.push(
          events.create({
            event: {
              tenantId: TENANT,
              eventId: uuidv7({ msecs: now }),
              createdAt: now,
              source: 'seed',
              eventType: 'bench.seeded',
              payloadJson: JSON.stringify({ data: 'x'.repeat(1013) }),
              priority: 'normal',
              metadata: { priority: 'normal' },
              expiresAt: now + 7 * 24 * 3600_000,
            },
          }),
        );
      }
      await Promise.all(batch);
    }
  } finally {
    await events.close();
    await webhooks.close();
    db.close();
  }
}

export interface DrainResult {
  deliveries: number;
  /** Deliveries per second from the first webhook received to the last. */
  perSecond: number;
  seconds: number;
  /** Webhooks received more than once (a retry or a lost answer). */
  duplicates: number;
}

/** Waits until the receiver has `count` distinct webhooks; the rate between first and last. */
export async function measureDrain(
  receiver: BenchReceiver,
  count: number,
  timeoutMs: number,
): Promise<DrainResult> {
  const deadline = Date.now() + timeoutMs;
  while (receiver.arrivals.size < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const times = [...receiver.arrivals.values()];
  const first = Math.min(...times);
  const last = Math.max(...times);
  const seconds = (last - first) / 1000;
  return {
    deliveries: receiver.arrivals.size,
    perSecond: seconds > 0 ? Math.round((receiver.arrivals.size - 1) / seconds) : 0,
    seconds: Math.round(seconds * 100) / 100,
    duplicates: receiver.received - receiver.arrivals.size,
  };
}

export interface LatencyResult {
  rate: number;
  samples: number;
  /** Milliseconds from sending the ingest request to the webhook reaching the receiver. */
  p50: number;
  p99: number;
  max: number;
  missed: number;
}

async function api(
  baseUrl: string,
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** Subscribes the receiver, then ingests `rate` events a second for `seconds`, one at a time. */
export async function ingestToReceiverLatency(
  baseUrl: string,
  receiver: BenchReceiver,
  rate: number,
  seconds: number,
): Promise<LatencyResult> {
  const subscribed = await api(baseUrl, '/v1/subscriptions', { target_url: receiver.url });
  if (subscribed.status !== 201) throw new Error(`subscribe answered ${subscribed.status}`);
  const sentAt = new Map<string, number>();
  const total = rate * seconds;
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i += 1) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    sends.push(
      api(baseUrl, '/v1/events', { source: 'bench', event_type: 'bench.latency', payload: { i } }).then(
        (res) => {
          if (res.status !== 201) throw new Error(`ingest answered ${res.status}`);
          sentAt.set(res.json.event_id as string, sent);
        },
      ),
    );
  }
  await Promise.all(sends);
  const deadline = Date.now() + 10_000;
  while ([...sentAt.keys()].some((id) => !receiver.arrivals.has(id)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const latencies = [...sentAt]
    .filter(([id]) => receiver.arrivals.has(id))
    .map(([id, sent]) => (receiver.arrivals.get(id) as number) - sent)
    .sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 10) / 10;
  return {
    rate,
    samples: latencies.length,
    p50: at(0.5),
    p99: at(0.99),
    max: Math.round((latencies.at(-1) ?? 0) * 10) / 10,
    missed: sentAt.size - latencies.length,
  };
}

/** Subscribes `count` URLs for event types no bench event has: the cost of matching on ingest. */
export async function subscribeNonMatching(baseUrl: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const res = await api(baseUrl, '/v1/subscriptions', {
      target_url: `http://127.0.0.1:9/unused-${i}`,
      event_types: [`other.type${i}.*`, `elsewhere.${i}`],
    });
    if (res.status !== 201) throw new Error(`subscribe answered ${res.status}`);
  }
}
