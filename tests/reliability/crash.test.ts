import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';
import { type CallOptions, callApi, inPool, NoAnswerError } from './ingest-ledger';

/**
 * Crash checker in the style of Jepsen's queue checker, on the real server process:
 * concurrent ingest (unique values, one idempotency key each) and ack load, `kill -9`
 * mid-load several times, restart on the same SQLite file, retry every request the crash cut
 * off (ingests with their idempotency key), then count what the server broke: lost (answered
 * but missing), duplicated (one key, two events) and unexpected (stored but never sent).
 */

const API_KEY = 'test-api-key-12345';
const SOURCE = 'crash-test';

const WORKERS = 24;
/** Kill after this many successful answers in a cycle (the cycle index picks one)... */
const KILL_AFTER_SUCCESSES = [300, 450, 600];
/** ...or after this long once a cycle has at least `MIN_SUCCESSES` answers (a slow machine)... */
const LOAD_MS = 2_000;
const MIN_SUCCESSES = 150;
/** ...and in any case after this long. */
const MAX_LOAD_MS = 6_000;
/** Hard bound on requests started in one cycle. */
const MAX_OPS_PER_CYCLE = 5_000;
const MIN_CYCLES = 2;
const MAX_CYCLES = 3;
/** No new cycle starts once the test has run this long. */
const CYCLE_BUDGET_MS = 18_000;
const REQUEST_TIMEOUT_MS = 10_000;
const ACK_SHARE = 0.3;

// ---------------------------------------------------------------------------------------------
// Process handling
// ---------------------------------------------------------------------------------------------

const children = new Set<ServerProcess>();

/** Starts the server on `dbPath`, remembered so that afterAll can kill it whatever happens. */
async function start(dbPath: string): Promise<ServerProcess> {
  const server = await startServer({ AUTH_MODE: 'local', TRIGGERS_SQLITE_PATH: dbPath, LOG_LEVEL: 'warn' });
  children.add(server);
  return server;
}

async function stop(server: ServerProcess): Promise<void> {
  await killServer(server);
  children.delete(server);
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

interface IngestBody {
  source: string;
  event_type: string;
  payload: { key: string; seq: number; nonce: string };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  replayed: boolean;
}

/** callApi (contract-checked, real socket), reduced to what the checker reads. */
async function call(base: string, method: string, url: string, options: CallOptions = {}): Promise<Answer> {
  const answer = await callApi(base, method, url, {
    ...options,
    apiKey: API_KEY,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  return {
    status: answer.status,
    body: answer.body,
    replayed: answer.headers['idempotent-replayed'] === 'true',
  };
}

function ingest(base: string, key: string, body: IngestBody): Promise<Answer> {
  return call(base, 'POST', '/v1/events', { headers: { 'Idempotency-Key': key }, body });
}

// ---------------------------------------------------------------------------------------------
// The ledger: what the server promised
// ---------------------------------------------------------------------------------------------

interface Ledger {
  /** Every idempotency key ever sent, with its body. */
  bodies: Map<string, IngestBody>;
  /** Keys answered 201, with the event id of the first 201. */
  created: Map<string, string>;
  /** Event ids answered 200 to an ack. */
  acked: Set<string>;
  /** Created events not yet acked or ack-attempted. */
  ackable: string[];
  /** Ingests cut off by a crash, waiting for their retry. */
  indeterminateIngests: Set<string>;
  indeterminateIngestCount: number;
  /** Acks cut off by a crash, waiting for their retry. */
  indeterminateAcks: Set<string>;
  indeterminateAckCount: number;
  /**
   * Indeterminate requests found applied by their retry: an ingest whose retry was a replay,
   * an ack whose retry answered 409 acknowledged (committed before the kill, answer lost).
   */
  recovered: number;
  created201: number;
  acks200: number;
  /**
   * Jepsen's queue-checker counts (sets: each re-check would repeat them): lost = answered
   * but missing; duplicated = one key, two events; unexpected = a stored event nobody sent.
   */
  lost: Set<string>;
  duplicates: Set<string>;
  unexpected: Set<string>;
  /** Answers that were neither success nor a cut connection (a 5xx, a wrong 4xx). */
  wrongAnswers: string[];
  seq: number;
}

function newLedger(): Ledger {
  return {
    bodies: new Map(),
    created: new Map(),
    acked: new Set(),
    ackable: [],
    indeterminateIngests: new Set(),
    indeterminateIngestCount: 0,
    indeterminateAcks: new Set(),
    indeterminateAckCount: 0,
    recovered: 0,
    created201: 0,
    acks200: 0,
    lost: new Set(),
    duplicates: new Set(),
    unexpected: new Set(),
    wrongAnswers: [],
    seq: 0,
  };
}

/** Records a 201 for `key`; a second, different event id for one key is a duplicate. */
function recordCreated(ledger: Ledger, key: string, eventId: string): boolean {
  const known = ledger.created.get(key);
  if (known === undefined) {
    ledger.created.set(key, eventId);
    ledger.ackable.push(eventId);
    return true;
  }
  if (known !== eventId) ledger.duplicates.add(`key ${key}: ${known} and ${eventId}`);
  return false;
}

/**
 * Concurrent ingest + ack load until `killAfter` successes (or the time bounds), then SIGKILL.
 * Answers that arrive after the kill signal still count: the server sent them.
 */
async function loadThenKill(server: ServerProcess, ledger: Ledger, cycle: number, killAfter: number) {
  let stopped = false;
  let successes = 0;
  let started = 0;
  const kill = () => {
    if (stopped) return;
    stopped = true;
    server.child.kill('SIGKILL');
  };
  const loadStart = Date.now();
  const timer = setInterval(() => {
    const elapsed = Date.now() - loadStart;
    if (elapsed >= MAX_LOAD_MS || (elapsed >= LOAD_MS && successes >= MIN_SUCCESSES)) kill();
  }, 25);

  const doIngest = async () => {
    ledger.seq += 1;
    const key = `crash-c${cycle}-${ledger.seq}-${randomUUID()}`;
    const body: IngestBody = {
      source: SOURCE,
      event_type: 'load.tick',
      payload: { key, seq: ledger.seq, nonce: randomUUID() },
    };
    ledger.bodies.set(key, body);
    let answer: Answer;
    try {
      answer = await ingest(server.baseUrl, key, body);
    } catch (error) {
      if (!(error instanceof NoAnswerError)) throw error;
      ledger.indeterminateIngests.add(key);
      ledger.indeterminateIngestCount += 1;
      return;
    }
    if (answer.status === 201 && typeof answer.body.event_id === 'string') {
      ledger.created201 += 1;
      recordCreated(ledger, key, answer.body.event_id);
      successes += 1;
    } else {
      ledger.wrongAnswers.push(`ingest ${key}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  };

  const doAck = async (eventId: string) => {
    let answer: Answer;
    try {
      answer = await call(server.baseUrl, 'POST', `/v1/events/${eventId}/ack`);
    } catch (error) {
      if (!(error instanceof NoAnswerError)) throw error;
      // Maybe acked, maybe not: retried after the restart, where 409 means it was.
      ledger.indeterminateAcks.add(eventId);
      ledger.indeterminateAckCount += 1;
      return;
    }
    if (answer.status === 200 && answer.body.status === 'acknowledged') {
      ledger.acks200 += 1;
      ledger.acked.add(eventId);
      successes += 1;
    } else {
      ledger.wrongAnswers.push(`ack ${eventId}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  };

  const worker = async () => {
    while (!stopped && started < MAX_OPS_PER_CYCLE) {
      started += 1;
      const eventId =
        ledger.ackable.length > 0 && Math.random() < ACK_SHARE ? ledger.ackable.pop() : undefined;
      if (eventId === undefined) await doIngest();
      else await doAck(eventId);
      if (successes >= killAfter) kill();
    }
  };
  try {
    await Promise.all(Array.from({ length: WORKERS }, worker));
  } finally {
    clearInterval(timer);
    kill();
    await stop(server);
  }
  return { successes, started };
}

/** After a restart: everything promised is there, and retries settle the indeterminate ingests. */
async function verifyAfterRestart(server: ServerProcess, ledger: Ledger): Promise<void> {
  // Every 201 is readable with the payload sent; every 200 ack is still acknowledged.
  await inPool([...ledger.created], 16, async ([key, eventId]) => {
    const got = await call(server.baseUrl, 'GET', `/v1/events/${eventId}`);
    if (got.status !== 200) {
      ledger.lost.add(`event ${eventId} (key ${key}): GET answered ${got.status}`);
      return;
    }
    const payload = got.body.payload as IngestBody['payload'] | undefined;
    if (payload?.nonce !== ledger.bodies.get(key)?.payload.nonce) {
      ledger.lost.add(`event ${eventId} (key ${key}): payload ${JSON.stringify(payload)}`);
    }
    if (ledger.acked.has(eventId) && got.body.status !== 'acknowledged') {
      ledger.lost.add(`ack of ${eventId}: status is ${String(got.body.status)}`);
    }
  });

  // Every request cut off by the kill, retried with its key and body, answers 201.
  await inPool([...ledger.indeterminateIngests], 16, async (key) => {
    const answer = await ingest(server.baseUrl, key, ledger.bodies.get(key) as IngestBody);
    if (answer.status !== 201 || typeof answer.body.event_id !== 'string') {
      ledger.wrongAnswers.push(`retry ${key}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return;
    }
    ledger.indeterminateIngests.delete(key);
    if (answer.replayed) ledger.recovered += 1;
    recordCreated(ledger, key, answer.body.event_id);
  });

  // Every ack cut off by the kill, retried: 200 (it was not applied) or 409 (it was).
  await inPool([...ledger.indeterminateAcks], 16, async (eventId) => {
    const answer = await call(server.baseUrl, 'POST', `/v1/events/${eventId}/ack`);
    const error = answer.body.error as { details?: { current_status?: string } } | undefined;
    const wasApplied = answer.status === 409 && error?.details?.current_status === 'acknowledged';
    if (answer.status !== 200 && !wasApplied) {
      ledger.wrongAnswers.push(`ack retry ${eventId}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return;
    }
    ledger.indeterminateAcks.delete(eventId);
    ledger.acked.add(eventId);
    if (wasApplied) ledger.recovered += 1;
  });

  // Replaying every answered key names the same event.
  await inPool([...ledger.created], 16, async ([key, eventId]) => {
    const answer = await ingest(server.baseUrl, key, ledger.bodies.get(key) as IngestBody);
    if (answer.status !== 201) {
      ledger.wrongAnswers.push(`replay ${key}: ${answer.status} ${JSON.stringify(answer.body)}`);
    } else if (answer.body.event_id !== eventId) {
      ledger.duplicates.add(`key ${key}: ${eventId}, replay named ${String(answer.body.event_id)}`);
    }
  });

  // No stored event beyond the one per key: every pending event was sent, and is its key's event.
  let cursor: string | undefined;
  for (let page = 0; page < 1_000; page += 1) {
    const query = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
    const answer = await call(server.baseUrl, 'GET', `/v1/inbox${query}`);
    if (answer.status !== 200)
      throw new Error(`inbox answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const events = answer.body.events as Array<{ event_id: string; payload: { key?: string } }>;
    for (const event of events) {
      const key = event.payload.key ?? '(none)';
      if (!ledger.bodies.has(key)) {
        ledger.unexpected.add(`stored event ${event.event_id} with key ${key}, which was never sent`);
        continue;
      }
      const known = ledger.created.get(key);
      if (known !== event.event_id) {
        ledger.duplicates.add(`stored event ${event.event_id} for key ${key}, which names ${known}`);
      }
    }
    const pagination = answer.body.pagination as { next_cursor: string | null; has_more: boolean };
    if (!pagination.has_more || !pagination.next_cursor) break;
    cursor = pagination.next_cursor;
  }
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

describe('the real server process under kill -9', () => {
  let dir: string;

  beforeAll(() => {
    ensureServerBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-crash-'));
  }, 200_000);

  afterAll(async () => {
    await Promise.all([...children].map((server) => stop(server)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  it('keeps every answered event and ack across repeated crashes mid-load, and retries make no duplicates', async () => {
    // Prepare
    const dbPath = path.join(dir, 'triggers.db');
    const ledger = newLedger();
    const testStart = Date.now();
    let server = await start(dbPath);
    let cycles = 0;
    const killedAfter: number[] = [];

    // Act
    while (cycles < MAX_CYCLES && (cycles < MIN_CYCLES || Date.now() - testStart < CYCLE_BUDGET_MS)) {
      const killAfter = KILL_AFTER_SUCCESSES[cycles % KILL_AFTER_SUCCESSES.length] as number;
      const { successes } = await loadThenKill(server, ledger, cycles, killAfter);
      killedAfter.push(successes);
      cycles += 1;
      server = await start(dbPath);
      await verifyAfterRestart(server, ledger);
    }
    await stop(server);

    // Assess
    const indeterminate = ledger.indeterminateIngestCount + ledger.indeterminateAckCount;
    console.log(
      `crash checker: cycles=${cycles} (kill -9 after ${killedAfter.join('/')} answers) ` +
        `acknowledged=${ledger.created201 + ledger.acks200} (201 ${ledger.created201}, ack 200 ${ledger.acks200}) ` +
        `indeterminate=${indeterminate} (ingest ${ledger.indeterminateIngestCount}, ack ${ledger.indeterminateAckCount}) ` +
        `recovered=${ledger.recovered} lost=${ledger.lost.size} duplicated=${ledger.duplicates.size} ` +
        `unexpected=${ledger.unexpected.size} wrong-answers=${ledger.wrongAnswers.length} ` +
        `in ${((Date.now() - testStart) / 1000).toFixed(1)} s`,
    );
    expect([...ledger.lost]).toEqual([]);
    expect([...ledger.duplicates]).toEqual([]);
    expect([...ledger.unexpected]).toEqual([]);
    expect(ledger.wrongAnswers).toEqual([]);
    expect(ledger.indeterminateIngests.size).toBe(0);
    expect(ledger.indeterminateAcks.size).toBe(0);
    expect(cycles).toBeGreaterThanOrEqual(MIN_CYCLES);
    expect(ledger.created201).toBeGreaterThan(100 * cycles);
    expect(ledger.acks200).toBeGreaterThan(0);
  }, 45_000);
});
