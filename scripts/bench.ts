/**
 * `npm run bench` (issue 6, first part): the real server against two ceilings measured in
 * the same run, a bare node:http server and a minimal Express 5 app with express.json(), each
 * in its own child process so that none of them shares a core with autocannon's event loop.
 * Scenarios are interleaved (round 1 of every scenario, then round 2, ...), each preceded by a
 * warm-up, and the table reports medians over the rounds.
 *
 *   npm run bench              3 rounds of 10 s per scenario
 *   npm run bench -- --quick   1 round of 5 s (smoke run)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { v7 as uuidv7 } from 'uuid';
import { SqliteEventStore } from '../server/src/store/sqlite';
import { openSqliteDatabase } from '../server/src/store/sqlite-database';
import {
  ensureServerBuilt,
  killServer,
  type ServerProcess,
  startServer,
} from '../tests/helpers/server-process';

const ROOT = path.resolve(__dirname, '..');
const API_KEY = 'test-api-key-12345';
const TENANT = 'local';
const QUICK = process.argv.includes('--quick');
const ROUNDS = QUICK ? 1 : 3;
const DURATION_S = QUICK ? 5 : 10;
const WARMUP_S = 3;
/** The whole run is cut off after this, whatever happens. */
const HARD_LIMIT_MS = 9 * 60_000;
const INBOX_EVENTS = 10_000;
/** Pending events seeded for the ack scenario; each ack consumes one. */
const ACK_POOL = QUICK ? 40_000 : 120_000;
const SEED_BATCH = 500;

/** A 1 KB payload (its compact JSON is exactly 1,024 bytes), the same for every target. */
const PAYLOAD_1KB = { data: 'x'.repeat(1024 - '{"data":""}'.length) };
const INGEST_BODY = JSON.stringify({ source: 'bench', event_type: 'bench.ingest', payload: PAYLOAD_1KB });

// ---------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed on the way out, whatever the way out is.

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killAll(): void {
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

const BARE_SOURCE = `
const http = require('node:http');
const body = JSON.stringify({ event_id: '00000000-0000-7000-8000-000000000000', status: 'pending' });
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => console.log('PORT=' + server.address().port));
`;

const EXPRESS_SOURCE = `
const express = require('express');
const app = express();
app.use(express.json({ limit: '512kb' }));
app.post('/v1/events', (req, res) => {
  res.status(201).json({ event_id: '00000000-0000-7000-8000-000000000000', status: 'pending', source: req.body.source });
});
const server = app.listen(0, '127.0.0.1', () => console.log('PORT=' + server.address().port));
`;

interface Target {
  name: string;
  baseUrl: string;
  pid: number;
}

/** Starts a ceiling server from `source` and resolves once it printed its port. */
function startCeiling(name: string, source: string): Promise<Target> {
  const child = track(
    spawn(process.execPath, ['-e', source], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /PORT=(\d+)/.exec(output);
      if (match && child.pid !== undefined) {
        clearTimeout(timer);
        resolve({ name, baseUrl: `http://127.0.0.1:${match[1]}`, pid: child.pid });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${output}`));
    });
  });
}

async function startReal(
  name: string,
  sqlitePath: string,
): Promise<{ target: Target; server: ServerProcess }> {
  const server = await startServer({ TRIGGERS_SQLITE_PATH: sqlitePath, TRIGGERS_RATE_LIMIT: '0' });
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

function rssMb(pid: number): number | null {
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

async function seedPending(
  file: string,
  count: number,
  payloadJson: string,
): Promise<{ ids: string[]; ms: number }> {
  const started = performance.now();
  const db = openSqliteDatabase(file);
  const store = new SqliteEventStore(db, { clock: Date.now, sweepIntervalMs: 0 });
  const ids: string[] = [];
  try {
    for (let done = 0; done < count; done += SEED_BATCH) {
      const batch: Promise<unknown>[] = [];
      for (let i = done; i < Math.min(count, done + SEED_BATCH); i += 1) {
        const now = Date.now();
        const eventId = uuidv7({ msecs: now });
        ids.push(eventId);
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
  } finally {
    await store.close();
    db.close();
  }
  return { ids, ms: Math.round(performance.now() - started) };
}

// ---------------------------------------------------------------------------------------
// Scenarios.

interface Scenario {
  name: string;
  target: Target;
  connections: number;
  options: () => Partial<autocannon.Options>;
}

interface Round {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  total: number;
  rssMb: number | null;
}

async function drive(scenario: Scenario, seconds: number): Promise<Round> {
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
  };
}

function ingest(name: string, target: Target): Scenario {
  return {
    name,
    target,
    connections: 50,
    options: () => ({
      url: `${target.baseUrl}/v1/events`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: INGEST_BODY,
    }),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function pad(value: string | number, width: number, right = false): string {
  const text = String(value);
  return right ? text.padEnd(width) : text.padStart(width);
}

async function main(): Promise<void> {
  const hardLimit = setTimeout(() => {
    console.error(`bench: over ${HARD_LIMIT_MS / 60_000} minutes, giving up`);
    killAll();
    process.exit(2);
  }, HARD_LIMIT_MS);
  hardLimit.unref();

  ensureServerBuilt();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'triggers-bench-'));
  const servers: ServerProcess[] = [];
  try {
    const mainDb = path.join(tmp, 'main.sqlite');
    const inboxDb = path.join(tmp, 'inbox-10k.sqlite');
    console.log(
      `bench: ${QUICK ? 'quick, ' : ''}${ROUNDS} round(s) of ${DURATION_S} s, warm-up ${WARMUP_S} s`,
    );

    const ackSeed = await seedPending(mainDb, ACK_POOL, '{"n":1}');
    console.log(`seeded ${ACK_POOL} pending events for acks in ${ackSeed.ms} ms`);
    const inboxSeed = await seedPending(inboxDb, INBOX_EVENTS, JSON.stringify(PAYLOAD_1KB));
    console.log(`seeded ${INBOX_EVENTS} pending events (1 KB payloads) for the inbox in ${inboxSeed.ms} ms`);

    const bare = await startCeiling('bare node:http', BARE_SOURCE);
    const express = await startCeiling('express 5 + json', EXPRESS_SOURCE);
    const real = await startReal('triggers (sqlite)', mainDb);
    servers.push(real.server);
    const inboxServer = await startReal('triggers (sqlite, inbox 10k)', inboxDb);
    servers.push(inboxServer.server);

    let nextAck = 0;
    const ackIds = ackSeed.ids;
    const scenarios: Scenario[] = [
      ingest('ingest 1 KB, 50 conn', bare),
      ingest('ingest 1 KB, 50 conn', express),
      ingest('ingest 1 KB, 50 conn', real.target),
      {
        name: 'ack distinct, 50 conn',
        target: real.target,
        connections: 50,
        options: () => ({
          url: `${real.target.baseUrl}/v1/events`,
          headers: { 'x-api-key': API_KEY },
          requests: [
            {
              method: 'POST',
              setupRequest: (request: autocannon.Request) => {
                // Past the end of the pool an ack answers 409 and shows up as non-2xx.
                const id = ackIds[nextAck % ackIds.length];
                nextAck += 1;
                return { ...request, path: `/v1/events/${id}/ack` };
              },
            },
          ],
        }),
      },
      {
        name: `inbox page 100 of ${INBOX_EVENTS}, 10 conn`,
        target: inboxServer.target,
        connections: 10,
        options: () => ({
          url: `${inboxServer.target.baseUrl}/v1/inbox?limit=100`,
          headers: { 'x-api-key': API_KEY },
        }),
      },
    ];

    // Warm-up: every scenario once, results discarded.
    for (const scenario of scenarios) {
      await drive(scenario, WARMUP_S);
    }
    const rounds = new Map<Scenario, Round[]>(scenarios.map((s) => [s, []]));
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const scenario of scenarios) {
        const result = await drive(scenario, DURATION_S);
        rounds.get(scenario)?.push(result);
        console.log(
          `round ${round}: ${scenario.name} -> ${scenario.target.name}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors}, non-2xx ${result.non2xx}`,
        );
      }
    }

    const rows = scenarios.map((scenario) => {
      const list = rounds.get(scenario) ?? [];
      return {
        scenario: scenario.name,
        target: scenario.target.name,
        connections: scenario.connections,
        rps: Math.round(median(list.map((r) => r.rps))),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        errors: list.reduce((sum, r) => sum + r.errors, 0),
        non2xx: list.reduce((sum, r) => sum + r.non2xx, 0),
        rssMb: Math.max(...list.map((r) => r.rssMb ?? 0)),
        rounds: list,
      };
    });
    const rpsOf = (index: number) => rows[index]?.rps ?? 0;
    const ratio = (ours: number, ceiling: number) =>
      ceiling > 0 ? Math.round((ours / ceiling) * 100) / 100 : 0;
    const ratios = {
      ingest: { oursOverExpress: ratio(rpsOf(2), rpsOf(1)), oursOverBare: ratio(rpsOf(2), rpsOf(0)) },
      ack: { oursOverExpress: ratio(rpsOf(3), rpsOf(1)), oursOverBare: ratio(rpsOf(3), rpsOf(0)) },
    };

    console.log('');
    console.log(
      `| ${pad('scenario', 32, true)} | ${pad('target', 28, true)} | ${pad('req/s', 7)} | ${pad('p50 ms', 6)} | ${pad('p99 ms', 6)} | ${pad('errors', 6)} | ${pad('non-2xx', 7)} | ${pad('RSS MB', 6)} |`,
    );
    console.log(
      `| ${'-'.repeat(32)} | ${'-'.repeat(28)} | ${'-'.repeat(7)} | ${'-'.repeat(6)} | ${'-'.repeat(6)} | ${'-'.repeat(6)} | ${'-'.repeat(7)} | ${'-'.repeat(6)} |`,
    );
    for (const row of rows) {
      console.log(
        `| ${pad(row.scenario, 32, true)} | ${pad(row.target, 28, true)} | ${pad(row.rps, 7)} | ${pad(row.p50, 6)} | ${pad(row.p99, 6)} | ${pad(row.errors, 6)} | ${pad(row.non2xx, 7)} | ${pad(row.rssMb, 6)} |`,
      );
    }
    console.log('');
    console.log(
      `ingest 1 KB: ours/Express ${ratios.ingest.oursOverExpress}, ours/bare ${ratios.ingest.oursOverBare}; ack: ours/Express ${ratios.ack.oursOverExpress}, ours/bare ${ratios.ack.oursOverBare} (the ack ratios compare against the ingest ceilings)`,
    );
    console.log(
      `seeding: ${ACK_POOL} events in ${ackSeed.ms} ms, ${INBOX_EVENTS} events in ${inboxSeed.ms} ms; acks sent ${nextAck} of a pool of ${ACK_POOL}`,
    );

    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const outDir = path.join(ROOT, 'bench/results');
    mkdirSync(outDir, { recursive: true });
    const outFile = path.join(outDir, `${stamp}.json`);
    writeFileSync(
      outFile,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          quick: QUICK,
          rounds: ROUNDS,
          durationSeconds: DURATION_S,
          warmupSeconds: WARMUP_S,
          machine: {
            cpus: os.cpus().length,
            cpuModel: os.cpus()[0]?.model,
            memoryGiB: Math.round(os.totalmem() / 2 ** 30),
            node: process.version,
            platform: `${os.type()} ${os.release()}`,
          },
          seeding: {
            ackPool: { events: ACK_POOL, ms: ackSeed.ms },
            inbox: { events: INBOX_EVENTS, ms: inboxSeed.ms },
          },
          acksSent: nextAck,
          results: rows,
          ratios,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`results: ${path.relative(ROOT, outFile)}`);
  } finally {
    for (const server of servers) await killServer(server);
    killAll();
    rmSync(tmp, { recursive: true, force: true });
    clearTimeout(hardLimit);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    killAll();
    process.exit(1);
  },
);
