/**
 * The lease numbers of `npm run bench` (issue 13): how fast workers drain an inbox by
 * leasing 10 and acking those 10, and how soon a waiting long-poll lease hears of an ingest.
 * Both run over real HTTP against a real server process; scripts/bench.ts starts the servers
 * and puts the results next to its own.
 */
import http from 'node:http';

const API_KEY = 'test-api-key-12345';

export interface CycleResult {
  /** Events leased and acknowledged per second, over the whole run. */
  eventsPerSecond: number;
  events: number;
  seconds: number;
  /** Lease requests that came back with fewer than 10 events (the pool running dry). */
  shortLeases: number;
  errors: number;
}

export interface WakeResult {
  samples: number;
  /** Milliseconds from sending the ingest to the waiting lease's answer. */
  p50: number;
  p99: number;
  max: number;
  /** Waiting leases that ran out (20 s) without the event: each is a missed wake-up. */
  missed: number;
}

/**
 * The workers' HTTP client: node:http with connections kept alive, as a worker's client would.
 * Not fetch: on this 2-core machine fetch took 86–89 % of a core to drive these cycles, more
 * than the server (76–79 %), so the cycles measured the client more than the server
 * (BENCHMARKS.md); the ingest and ack scenarios' client, autocannon, is as lean as this.
 */
const agent = new http.Agent({ keepAlive: true });

function post(baseUrl: string, path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${baseUrl}${path}`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'x-api-key': API_KEY,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            resolve({
              status: response.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')),
            });
          } catch (error) {
            reject(error);
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

interface LeasedEvent {
  event_id: string;
  lease: { lease_id: string };
}

function leasedEvents(json: unknown): LeasedEvent[] {
  const events = (json as { events?: LeasedEvent[] }).events;
  if (!Array.isArray(events)) throw new Error(`a lease answered no events array: ${JSON.stringify(json)}`);
  return events;
}

/**
 * `workers` loops, each: lease 10 (visibility 60 s), ack the 10 with their lease ids at once,
 * repeat, for `seconds`. The server's inbox must hold enough pending events for the run.
 */
export async function leaseAckCycles(
  baseUrl: string,
  workers: number,
  seconds: number,
): Promise<CycleResult> {
  const deadline = performance.now() + seconds * 1000;
  let events = 0;
  let shortLeases = 0;
  let errors = 0;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      const leased = await post(baseUrl, '/v1/inbox/lease', { limit: 10, visibility_timeout: 60 });
      if (leased.status !== 200) {
        errors += 1;
        continue;
      }
      const batch = leasedEvents(leased.json);
      if (batch.length < 10) shortLeases += 1;
      const acks = await Promise.all(
        batch.map((event) =>
          post(baseUrl, `/v1/events/${event.event_id}/ack`, { lease_id: event.lease.lease_id }),
        ),
      );
      for (const ack of acks) {
        if (ack.status === 200) events += 1;
        else errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsed = (performance.now() - started) / 1000;
  return {
    eventsPerSecond: Math.round(events / elapsed),
    events,
    seconds: Math.round(elapsed * 10) / 10,
    shortLeases,
    errors,
  };
}

/**
 * `samples` times, one after another: a lease waits (wait 20) on an empty inbox, an ingest
 * follows once the lease is surely waiting, and the time from sending the ingest to the
 * lease's answer is one sample. The server must start with an empty inbox for its tenant.
 */
export async function longPollWake(baseUrl: string, samples: number): Promise<WakeResult> {
  const latencies: number[] = [];
  let missed = 0;
  for (let i = 0; i < samples; i += 1) {
    const waiting = post(baseUrl, '/v1/inbox/lease', { limit: 1, wait: 20, visibility_timeout: 60 });
    // Let the lease reach the server and find the inbox empty before the event arrives.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const sent = performance.now();
    const created = await post(baseUrl, '/v1/events', {
      source: 'bench',
      event_type: 'bench.wake',
      payload: { i },
    });
    if (created.status !== 201) throw new Error(`ingest answered ${created.status}`);
    const leased = await waiting;
    const events = leasedEvents(leased.json);
    const event = events[0];
    if (!event) {
      missed += 1;
      continue;
    }
    latencies.push(performance.now() - sent);
    await post(baseUrl, `/v1/events/${event.event_id}/ack`, { lease_id: event.lease.lease_id });
  }
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10;
  return { samples: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1), missed };
}
