/**
 * What `npm run bench` (scripts/bench.ts), the A/B bench (scripts/bench-ab.ts) and the
 * profiler (scripts/bench-profile.ts) share: real server processes, seeding SQLite files
 * through the store API, and autocannon scenarios.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { v7 as uuidv7 } from 'uuid';
import type { EventStore } from '../server/src/store/event-store';
import { openSqliteDatabase } from '../server/src/store/sqlite/database';
import { SqliteEventStore } from '../server/src/store/sqlite/event-store';
import { type ServerProcess, startServer } from '../tests/helpers/server-process';

export const API_KEY = 'test-api-key-12345';
export const TENANT = 'local';
const SEED_BATCH = 500;
/** Inbox stores hold 256-byte payloads: 1,000,000 of 1 KB would be a 1.2 GB file to seed. */
export const INBOX_PAYLOAD_JSON = JSON.stringify({ data: 'x'.repeat(256 - '{"data":""}'.length) });

/** A 1 KB payload (its compact JSON is exactly 1,024 bytes), the same for every target. */
export const PAYLOAD_1KB = { data: 'x'.repeat(1024 - '{"data":""}'.length) };
export const INGEST_BODY = JSON.stringify({
  source: 'bench',
  event_type: 'bench.ingest',
  payload: PAYLOAD_1KB,
});
export const INGEST_64KB_BODY = JSON.stringify({
  source: 'bench',
  event_type: 'bench.ingest',
  payload: { data: 'x'.repeat(65_536 - '{"data":""}'.length) },
});

// ---------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed on the way out, whatever the way out is.

const children = new Set<ChildProcess>();
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Runs a bench script's `main` to the end: exit 0, or print the error, kill every child and exit 1. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      killAll();
      process.exit(1);
    },
  );
}

export interface Target {
  name: string;
  baseUrl: string;
  pid: number;
}

export async function startReal(
  name: string,
  env: Record<string, string>,
  entry?: string,
): Promise<{ target: Target; server: ServerProcess }> {
  const server = await startServer({ TRIGGERS_RATE_LIMIT: '0', ...env }, 20_000, entry);
  track(server.child);
  // The server logs every request at the default level (info). The helper keeps all of its
  // output in a string; past start-up, drop that listener and just drain the pipes so that a
  // full pipe never blocks the server and the bench process does not grow with the logs.
  for (const stream of [server.child.stdout, server.child.stderr]) {
    stream?.removeAllListeners('data');
    stream?.resume();
  }
  if (server.child.pid === undefined) throw new Error(`${name} has no pid`);
  return { target: { name, baseUrl: server.baseUrl, pid: server.child.pid }, server };
}

export function rssMb(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Seeding through the store API (not over HTTP), in batches: each batch of creates lands in
// one group-commit transaction.

/** Opens the SQLite file at `file` for seeding; closed by `done`. */
export function sqliteSeedStore(file: string): { store: EventStore; done: () => Promise<void> } {
  const db = openSqliteDatabase(file);
  const store = new SqliteEventStore(db, { clock: Date.now, sweepIntervalMs: 0 });
  return {
    store,
    done: async () => {
      await store.close();
      db.close();
    },
  };
}

export async function seedPending(
  store: EventStore,
  count: number,
  payloadJson: string,
  options: { keepIds?: boolean; batch?: number } = {},
): Promise<{ ids: string[]; ms: number }> {
  const started = performance.now();
  const batchSize = options.batch ?? SEED_BATCH;
  const ids: string[] = [];
  for (let done = 0; done < count; done += batchSize) {
    const batch: Promise<unknown>[] = [];
    for (let i = done; i < Math.min(count, done + batchSize); i += 1) {
      const now = Date.now();
      const eventId = uuidv7({ msecs: now });
      if (options.keepIds) ids.push(eventId);
      batch.push(
        store.create({
          event: {
            tenantId: TENANT,
            eventId,
            createdAt: now,
            source: 'seed',
            eventType: 'bench.seeded',
            payloadJson,
            priority: 'normal',
            metadata: { priority: 'normal' },
            expiresAt: now + 7 * 24 * 3600_000,
          },
        }),
      );
    }
    await Promise.all(batch);
  }
  return { ids, ms: Math.round(performance.now() - started) };
}

// ---------------------------------------------------------------------------------------
// Scenarios.

export interface Scenario {
  name: string;
  target: Target;
  connections: number;
  options: () => Partial<autocannon.Options>;
}

export interface Round {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  total: number;
  rssMb: number | null;
  /**
   * The target's CPU time (user + system, all its threads) per answered request, in µs. On a
   * shared 2-core machine req/s also moves with how much CPU the server was given; its CPU
   * per request is what a change to the server's own work moves.
   */
  cpuUsPerRequest: number | null;
}

export async function drive(scenario: Scenario, seconds: number): Promise<Round> {
  const cpuBefore = cpuMs(scenario.target.pid);
  const result = await autocannon({
    connections: scenario.connections,
    duration: seconds,
    timeout: 10,
    ...scenario.options(),
  } as autocannon.Options);
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total,
    rssMb: rssMb(scenario.target.pid),
    cpuUsPerRequest: cpuPerRequest(cpuBefore, cpuMs(scenario.target.pid), result.requests.total),
  };
}

function cpuPerRequest(before: number | null, after: number | null, requests: number): number | null {
  if (before === null || after === null || requests === 0) return null;
  return Math.round(((after - before) * 1000) / requests);
}

/** CPU time the process has used so far (utime + stime of /proc/<pid>/stat), in ms. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on Linux for every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export function ingest(name: string, target: Target, body = INGEST_BODY, connections = 50): Scenario {
  return {
    name,
    target,
    connections,
    options: () => ({
      url: `${target.baseUrl}/v1/events`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body,
    }),
  };
}

export function inboxPage(name: string, target: Target): Scenario {
  return {
    name,
    target,
    connections: 10,
    options: () => ({ url: `${target.baseUrl}/v1/inbox?limit=100`, headers: { 'x-api-key': API_KEY } }),
  };
}

/** 50 connections acking distinct pending events, taken in turn from `ids`. */
export function ackDistinct(target: Target, ids: string[], cursor: { next: number }): Scenario {
  return {
    name: 'ack distinct, 50 conn',
    target,
    connections: 50,
    options: () => ({
      url: target.baseUrl,
      headers: { 'x-api-key': API_KEY },
      requests: [ackRequest(ids, cursor)],
    }),
  };
}

/** Acks of distinct pending events, taken in turn from `ids`. */
export function ackRequest(ids: string[], cursor: { next: number }): autocannon.Request {
  return {
    method: 'POST',
    setupRequest: (request: autocannon.Request) => {
      // Past the end of the pool an ack answers 409 and shows up as non-2xx.
      const id = ids[cursor.next % ids.length];
      cursor.next += 1;
      return { ...request, path: `/v1/events/${id}/ack` };
    },
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Seeded for each server of `bench:ab` and `bench:profile`: 20,000 acks a second through
 * bench:ab's default rounds; past it the 409s count as errors.
 */
const SCENARIO_ACK_POOL = 600_000;
const SCENARIO_INBOX_EVENTS = 100_000;

/**
 * Seeds `file` for one scenario of the A/B and profiling benches: a pool of pending events to
 * ack (their ids are returned), or an inbox to page; nothing for ingest.
 */
export async function seedFor(kind: string, file: string): Promise<string[]> {
  const seeding = sqliteSeedStore(file);
  try {
    const seeded = await seedPending(
      seeding.store,
      kind === 'ack' ? SCENARIO_ACK_POOL : kind === 'inbox' ? SCENARIO_INBOX_EVENTS : 0,
      kind === 'inbox' ? INBOX_PAYLOAD_JSON : '{"n":1}',
      { keepIds: kind === 'ack' },
    );
    return seeded.ids;
  } finally {
    await seeding.done();
  }
}

export function scenarioFor(
  kind: string,
  target: Target,
  ackIds: string[],
  cursor: { next: number },
): Scenario {
  switch (kind) {
    case 'ingest':
      return ingest('ingest 1 KB, 50 conn', target);
    case 'ingest64':
      return ingest('ingest 64 KB, 16 conn', target, INGEST_64KB_BODY, 16);
    case 'inbox':
      return inboxPage(`inbox page 100 of ${SCENARIO_INBOX_EVENTS}, 10 conn`, target);
    case 'ack':
      return ackDistinct(target, ackIds, cursor);
    default:
      throw new Error(`unknown scenario ${kind}: ingest, ingest64, ack or inbox`);
  }
}
