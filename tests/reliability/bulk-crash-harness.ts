import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import Database from 'better-sqlite3';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { DynamoEventStore } from '../../server/src/store/dynamodb/event-store';
import { createTables, deleteTables, dynamoTableNames } from '../../server/src/store/dynamodb/tables';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';
import { callApi, type HttpAnswer, inPool, type Json, NoAnswerError, sleep } from './ingest-ledger';

/**
 * `kill -9` of the real server process while bulk ingests (each item with its own
 * idempotency key) and bulk acks are in flight, several times, on SQLite and on DynamoDB
 * Local. After each crash the store itself is read (the SQLite file, or a scan of the
 * DynamoDB table) and every item must be all or nothing: an event exists iff its key record
 * exists and names it, with its whole payload (one item per bulk is ~380 KB: several SQLite
 * pages, DynamoDB chunk items); an event is pending with no acknowledged_at or acknowledged
 * with one. Every answered 200 survived. Then the whole request cut off by the crash, sent
 * again, completes it: one event per key, the ones already applied named again.
 */

const TENANT = 'local';
const WORKERS = 4;
const ITEMS_PER_BULK = 16;
/** Under the 409,600-byte payload limit; over 300 KiB even gzipped (DynamoDB chunks). */
const BIG_PAYLOAD_CHARS = 400_000;
/** Kill once this many bulk requests were answered in a cycle, or after MAX_LOAD_MS. */
const KILL_AFTER_ANSWERS = [8, 14, 20];
/**
 * ...and then this long after the next commit starts (SQLite): at once lands mid-commit, a
 * few ms later mostly between a commit and its answer (applied, but never answered).
 */
const KILL_AFTER_COMMIT_MS = [0, 2, 5];
const MAX_LOAD_MS = 3_000;

interface StoredEvent {
  eventId: string;
  key: string | undefined;
  status: string;
  acknowledgedAt: number | null;
  /** Undefined when the payload cannot be read whole (a missing chunk). */
  payloadJson: string | undefined;
}

/** The store read behind the API's back, with the server dead (SQLite) or alive (DynamoDB). */
interface Inspection {
  /** Idempotency key -> the event its record names. */
  keys: Map<string, string>;
  events: StoredEvent[];
  /** Storage-level damage: `PRAGMA integrity_check` problems, or orphan chunk items. */
  damage: string[];
  /** DynamoDB: payload chunk items stored (the big payloads must have made some). */
  chunkItems?: number;
}

interface Backend {
  name: string;
  /** Crashes: SQLite restarts in ~1 s, the server on DynamoDB Local in ~2-3 s. */
  cycles: number;
  /** A file that changes while a commit is being written (SQLite's WAL), to kill right then. */
  commitFile?: string;
  start(): Promise<ServerProcess>;
  inspect(): Promise<Inspection>;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggers-bulk-crash-'));
  const file = path.join(dir, 'triggers.db');
  return {
    name: 'SQLite',
    cycles: 3,
    commitFile: `${file}-wal`,
    start: () => startServer({ AUTH_MODE: 'local', TRIGGERS_SQLITE_PATH: file, LOG_LEVEL: 'fatal' }),
    async inspect() {
      // The server is dead: opening the file recovers its WAL as the restart will.
      const db = new Database(file, { fileMustExist: true });
      try {
        const integrity = db.pragma('integrity_check', { simple: true });
        const keys = new Map(
          (
            db
              .prepare('SELECT idempotency_key, event_id FROM idempotency_keys WHERE tenant_id = ?')
              .all(TENANT) as Array<{ idempotency_key: string; event_id: string }>
          ).map((row) => [row.idempotency_key, row.event_id]),
        );
        const rows = db
          .prepare(
            'SELECT event_id, metadata, status, acknowledged_at, payload FROM events WHERE tenant_id = ?',
          )
          .all(TENANT) as Array<{
          event_id: string;
          metadata: string;
          status: string;
          acknowledged_at: number | null;
          payload: string;
        }>;
        const events = rows.map((row) => ({
          eventId: row.event_id,
          key: (JSON.parse(row.metadata) as { idempotency_key?: string }).idempotency_key,
          status: row.status,
          acknowledgedAt: row.acknowledged_at,
          payloadJson: row.payload,
        }));
        return { keys, events, damage: integrity === 'ok' ? [] : [String(integrity)] };
      } finally {
        db.close();
      }
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function dynamoBackend(): Backend {
  const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts it');
  const stage = `bulk-crash-${randomUUID().slice(0, 8)}`;
  const tables = dynamoTableNames(stage);
  const clients = createDynamoClients({ region: 'us-east-1', endpoint });
  const scanAll = async (TableName: string): Promise<Json[]> => {
    const items: Json[] = [];
    let start: Json | undefined;
    do {
      const page = await clients.documents.send(
        new ScanCommand({
          TableName,
          ConsistentRead: true,
          ExclusiveStartKey: start,
          // Payloads are read through the store below, once per event.
          ProjectionExpression: 'pk, event_id, #status, acknowledged_at, metadata',
          ExpressionAttributeNames: { '#status': 'status' },
        }),
      );
      items.push(...((page.Items ?? []) as Json[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  };
  // Reads payloads the way the server does, chunks included (a missing chunk throws).
  const reader = new DynamoEventStore({
    client: clients.documents,
    tableName: tables.events,
    clock: Date.now,
  });
  /** Payloads read whole once: an item's payload never changes after its transaction. */
  const complete = new Map<string, string>();
  let created = false;
  return {
    name: 'DynamoDB',
    cycles: 2,
    async start() {
      if (!created) await createTables(clients.base, tables);
      created = true;
      return startServer({
        AUTH_MODE: 'local',
        TRIGGERS_STORE: 'dynamodb',
        TRIGGERS_DYNAMODB_ENDPOINT: endpoint,
        TRIGGERS_STAGE: stage,
        LOG_LEVEL: 'fatal',
      });
    },
    async inspect() {
      // The killed server's last writes may still be running in DynamoDB, and a Scan is only
      // read-committed per item: it can see part of a transaction that is being applied.
      // Scan until two scans in a row agree: then no write is in flight.
      let items: Json[] = [];
      let previous = '';
      for (let scans = 1; scans <= 20; scans += 1) {
        items = await scanAll(tables.events);
        const seen = JSON.stringify(items.map((item) => [item.pk, item.status, item.acknowledged_at]).sort());
        if (seen === previous) break;
        previous = seen;
        await sleep(200);
      }
      const keys = new Map<string, string>();
      const eventItems: Json[] = [];
      const chunkOwners: string[] = [];
      for (const item of items) {
        const pk = item.pk as string;
        if (pk.startsWith(`${TENANT}#idem#`))
          keys.set(pk.slice(`${TENANT}#idem#`.length), item.event_id as string);
        else if (pk.includes('#chunk#')) chunkOwners.push(pk.split('#')[1] as string);
        else if (typeof item.event_id === 'string' && typeof item.status === 'string') eventItems.push(item);
      }
      const events: StoredEvent[] = [];
      await inPool(eventItems, 8, async (item) => {
        const eventId = item.event_id as string;
        let payloadJson = complete.get(eventId);
        if (payloadJson === undefined) {
          payloadJson = (await reader.get(TENANT, eventId).catch(() => undefined))?.payloadJson;
          if (payloadJson !== undefined) complete.set(eventId, payloadJson);
        }
        events.push({
          eventId,
          key: (JSON.parse(item.metadata as string) as { idempotency_key?: string }).idempotency_key,
          status: item.status as string,
          acknowledgedAt: (item.acknowledged_at as number | undefined) ?? null,
          payloadJson,
        });
      });
      const eventIds = new Set(events.map((event) => event.eventId));
      const orphans = chunkOwners.filter((owner) => !eventIds.has(owner));
      return {
        keys,
        events,
        damage: orphans.map((owner) => `chunk item of missing event ${owner}`),
        chunkItems: chunkOwners.length,
      };
    },
    async cleanup() {
      if (created) await deleteTables(clients.base, tables);
      clients.base.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// What the clients sent and what the server answered
// ---------------------------------------------------------------------------------------------

interface BulkIngest {
  items: Array<{ source: string; event_type: string; payload: Json; metadata: { idempotency_key: string } }>;
  /** Event ids of an answered 200, by index. */
  answered?: string[];
}

interface BulkAck {
  eventIds: string[];
  answered: boolean;
}

interface Ledger {
  ingests: BulkIngest[];
  acks: BulkAck[];
  /** Event id -> acknowledged_at (ms) of an answered 200. */
  acked: Map<string, number>;
  /** Key -> payload JSON sent. */
  payloads: Map<string, string>;
  /** Events answered 201 and not yet in any bulk ack. */
  ackable: string[];
  problems: string[];
  unanswered: { ingests: number; acks: number };
  /** Unanswered bulk ingests found, after the crash, with all / some / none of their items. */
  applied: { all: number; some: number; none: number };
}

/** Printable ASCII but `"` and `\`: one byte each in JSON, ~6.5 bits of entropy each. */
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
  .filter((char) => char !== '"' && char !== '\\')
  .join('');

function incompressible(length: number): string {
  let text = '';
  for (const byte of randomBytes(length)) text += PRINTABLE[byte % PRINTABLE.length];
  return text;
}

function newBulk(): BulkIngest {
  const items = Array.from({ length: ITEMS_PER_BULK }, (_, index) => {
    const key = `bulk-${randomUUID()}`;
    const payload: Json = { key, index, nonce: randomUUID() };
    // One large, incompressible payload per request: a row over many SQLite pages, several
    // DynamoDB chunk items, written in the same transaction as the rest of the item.
    if (index === 0) payload.blob = incompressible(BIG_PAYLOAD_CHARS);
    return { source: 'bulk-crash', event_type: 'bulk.item', payload, metadata: { idempotency_key: key } };
  });
  return { items };
}

function sendBulk(baseUrl: string, bulk: BulkIngest): Promise<HttpAnswer> {
  return callApi(baseUrl, 'POST', '/v1/events/bulk', { body: { items: bulk.items }, timeoutMs: 15_000 });
}

function sendAck(baseUrl: string, ack: BulkAck): Promise<HttpAnswer> {
  return callApi(baseUrl, 'POST', '/v1/events/bulk/ack', {
    body: { event_ids: ack.eventIds },
    timeoutMs: 15_000,
  });
}

/**
 * Bulk ingests and bulk acks from WORKERS clients, then `kill -9` while they are in flight:
 * once `killAfter` requests were answered, `killAfterCommitMs` after the next change of
 * `commitFile`, else a few milliseconds later.
 */
async function loadThenKill(
  server: ServerProcess,
  ledger: Ledger,
  killAfter: number,
  commitFile: string | undefined,
  killAfterCommitMs: number,
): Promise<number> {
  let answers = 0;
  let killed = false;
  let watch: NodeJS.Timeout | undefined;
  const kill = () => {
    if (!killed) server.child.kill('SIGKILL');
    killed = true;
    clearTimeout(watch);
  };
  const timer = setTimeout(kill, MAX_LOAD_MS);
  const arm = () => {
    if (watch || killed) return;
    if (!commitFile) {
      watch = setTimeout(kill, Math.random() * 50);
      return;
    }
    const state = () => {
      const info = statSync(commitFile, { bigint: true, throwIfNoEntry: false });
      return `${info?.size}/${info?.mtimeNs}`;
    };
    const before = state();
    watch = setInterval(() => {
      if (state() === before) return;
      clearInterval(watch);
      watch = setTimeout(kill, killAfterCommitMs);
    }, 1);
  };
  const worker = async (n: number) => {
    for (let round = 0; !killed; round += 1) {
      if ((round + n) % 3 === 2 && ledger.ackable.length > 0) {
        const ack: BulkAck = { eventIds: ledger.ackable.splice(0, 60), answered: false };
        ledger.acks.push(ack);
        const answer = await sendAck(server.baseUrl, ack).catch((error: unknown) => {
          if (error instanceof NoAnswerError) return undefined;
          throw error;
        });
        if (!answer) continue;
        ack.answered = true;
        if (answer.status !== 200)
          ledger.problems.push(`bulk ack: ${answer.status} ${JSON.stringify(answer.body)}`);
        for (const done of (answer.body.successful ?? []) as Array<{
          event_id: string;
          acknowledged_at: string;
        }>)
          ledger.acked.set(done.event_id, Date.parse(done.acknowledged_at));
        for (const failed of (answer.body.failed ?? []) as Json[])
          ledger.problems.push(`bulk ack item failed: ${JSON.stringify(failed)}`);
      } else {
        const bulk = newBulk();
        ledger.ingests.push(bulk);
        for (const item of bulk.items)
          ledger.payloads.set(item.metadata.idempotency_key, JSON.stringify(item.payload));
        const answer = await sendBulk(server.baseUrl, bulk).catch((error: unknown) => {
          if (error instanceof NoAnswerError) return undefined;
          throw error;
        });
        if (!answer) continue;
        recordIngestAnswer(ledger, bulk, answer);
      }
      answers += 1;
      if (answers >= killAfter) arm();
    }
  };
  try {
    await Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));
  } finally {
    clearTimeout(timer);
    kill();
    clearTimeout(watch);
    await killServer(server);
  }
  return answers;
}

function recordIngestAnswer(ledger: Ledger, bulk: BulkIngest, answer: HttpAnswer): void {
  const successful = (answer.body.successful ?? []) as Array<{ index: number; event_id: string }>;
  if (answer.status !== 200 || successful.length !== bulk.items.length) {
    ledger.problems.push(`bulk ingest: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
    return;
  }
  bulk.answered = [];
  for (const item of successful) bulk.answered[item.index] = item.event_id;
  ledger.ackable.push(...bulk.answered);
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/** Every item all or nothing, every answer kept, every event in one consistent ack state. */
function checkStore(inspection: Inspection, ledger: Ledger, countUnanswered: boolean): string[] {
  const problems = [...inspection.damage];
  const byKey = new Map<string, StoredEvent[]>();
  for (const event of inspection.events) {
    if (event.key === undefined || !ledger.payloads.has(event.key)) {
      problems.push(`event ${event.eventId} belongs to no item sent (key ${event.key})`);
      continue;
    }
    byKey.set(event.key, [...(byKey.get(event.key) ?? []), event]);
    const consistent =
      (event.status === 'pending' && event.acknowledgedAt === null) ||
      (event.status === 'acknowledged' && event.acknowledgedAt !== null);
    if (!consistent)
      problems.push(`event ${event.eventId}: ${event.status} with acknowledged_at ${event.acknowledgedAt}`);
    const ackedAt = ledger.acked.get(event.eventId);
    if (ackedAt !== undefined && (event.status !== 'acknowledged' || event.acknowledgedAt !== ackedAt))
      problems.push(
        `lost ack of ${event.eventId}: ${event.status} at ${event.acknowledgedAt}, answered ${ackedAt}`,
      );
  }
  for (const bulk of ledger.ingests) {
    let applied = 0;
    bulk.items.forEach((item, index) => {
      const key = item.metadata.idempotency_key;
      const events = byKey.get(key) ?? [];
      const record = inspection.keys.get(key);
      const event = events[0];
      if (events.length > 1) problems.push(`key ${key}: ${events.length} events`);
      if ((record === undefined) !== (event === undefined))
        problems.push(
          `key ${key} half applied: key record ${record ?? 'missing'}, event ${event?.eventId ?? 'missing'}`,
        );
      if (record !== undefined && event !== undefined && record !== event.eventId)
        problems.push(`key ${key} names ${record}, its event is ${event.eventId}`);
      if (event && event.payloadJson !== ledger.payloads.get(key))
        problems.push(
          `event ${event.eventId}: payload incomplete or altered (${event.payloadJson?.length ?? 'unreadable'} chars)`,
        );
      const answered = bulk.answered?.[index];
      if (answered !== undefined && event?.eventId !== answered)
        problems.push(`lost: item ${key} answered ${answered}, stored ${event?.eventId ?? 'nothing'}`);
      if (event) applied += 1;
    });
    if (countUnanswered && !bulk.answered) {
      if (applied === bulk.items.length) ledger.applied.all += 1;
      else if (applied === 0) ledger.applied.none += 1;
      else ledger.applied.some += 1;
    }
  }
  return problems;
}

/** Sends every unanswered request again, whole: it must complete, naming what was applied. */
async function retryUnanswered(baseUrl: string, ledger: Ledger, before: Inspection): Promise<void> {
  const bulks = ledger.ingests.filter((bulk) => !bulk.answered);
  ledger.unanswered.ingests += bulks.length;
  await inPool(bulks, 2, async (bulk) => {
    const answer = await sendBulk(baseUrl, bulk);
    const successful = (answer.body.successful ?? []) as Array<{
      index: number;
      event_id: string;
      replayed: boolean;
    }>;
    for (const item of successful) {
      const key = bulk.items[item.index]?.metadata.idempotency_key as string;
      const applied = before.keys.get(key);
      if (applied !== undefined && (item.event_id !== applied || !item.replayed))
        ledger.problems.push(
          `retry of ${key} named ${item.event_id} (replayed ${item.replayed}), stored ${applied}`,
        );
    }
    recordIngestAnswer(ledger, bulk, answer);
  });
  const acks = ledger.acks.filter((ack) => !ack.answered);
  ledger.unanswered.acks += acks.length;
  await inPool(acks, 2, async (ack) => {
    const answer = await sendAck(baseUrl, ack);
    ack.answered = true;
    if (answer.status !== 200)
      ledger.problems.push(`retried bulk ack: ${answer.status} ${JSON.stringify(answer.body)}`);
    for (const done of (answer.body.successful ?? []) as Array<{ event_id: string; acknowledged_at: string }>)
      ledger.acked.set(done.event_id, Date.parse(done.acknowledged_at));
    // Acked before the crash, answer lost: the retry finds it acknowledged, and says when.
    for (const failed of (answer.body.failed ?? []) as Array<{
      event_id: string;
      error: { code: string; details: Json };
    }>) {
      if (failed.error.code !== 'CONFLICT' || failed.error.details.current_status !== 'acknowledged')
        ledger.problems.push(`retried ack of ${failed.event_id}: ${JSON.stringify(failed.error)}`);
      else ledger.acked.set(failed.event_id, Date.parse(failed.error.details.acknowledged_at as string));
    }
  });
}

/** The suite, on the store `makeBackend` gives (one test file per store, for their run time). */
export function describeBulkCrash(name: string, makeBackend: () => Backend): void {
  describe(`Bulk requests cut off by kill -9 of the real server on ${name}`, () => {
    let backend: Backend;
    const servers = new Set<ServerProcess>();

    beforeAll(() => {
      ensureServerBuilt();
      backend = makeBackend();
    }, 200_000);

    afterAll(async () => {
      await Promise.all([...servers].map((server) => killServer(server)));
      await backend?.cleanup();
    }, 30_000);

    it('leaves every item all or nothing, keeps every answer, and a retry of the whole request completes it without duplicates', async () => {
      // Prepare
      const ledger: Ledger = {
        ingests: [],
        acks: [],
        acked: new Map(),
        payloads: new Map(),
        ackable: [],
        problems: [],
        unanswered: { ingests: 0, acks: 0 },
        applied: { all: 0, some: 0, none: 0 },
      };
      const afterCrash: string[][] = [];

      // Act: load, kill -9, read the store, restart, retry what the crash cut off (on the
      // restarted server, which then carries the next cycle's load); repeated
      let server = await backend.start();
      servers.add(server);
      for (let cycle = 0; cycle < backend.cycles; cycle += 1) {
        await loadThenKill(
          server,
          ledger,
          KILL_AFTER_ANSWERS[cycle] as number,
          backend.commitFile,
          KILL_AFTER_COMMIT_MS[cycle] as number,
        );
        servers.delete(server);
        const inspection = await backend.inspect();
        afterCrash.push(checkStore(inspection, ledger, true));
        server = await backend.start();
        servers.add(server);
        await retryUnanswered(server.baseUrl, ledger, inspection);
      }
      await killServer(server);
      const final = await backend.inspect();
      const finalProblems = checkStore(final, ledger, false);

      // Assess
      const items = ledger.ingests.length * ITEMS_PER_BULK;
      console.log(
        `bulk crash on ${backend.name}: ${backend.cycles} kill -9, ${ledger.ingests.length} bulk ingests (${items} items), ` +
          `${ledger.acks.length} bulk acks; cut off: ${ledger.unanswered.ingests} ingests (found applied all ` +
          `${ledger.applied.all} / some ${ledger.applied.some} / none ${ledger.applied.none}), ` +
          `${ledger.unanswered.acks} acks; ${final.events.length} events stored, ${ledger.acked.size} acked` +
          (final.chunkItems === undefined ? '' : `, ${final.chunkItems} payload chunk items`),
      );
      expect(afterCrash).toEqual(Array(backend.cycles).fill([]));
      expect(finalProblems).toEqual([]);
      expect(ledger.problems).toEqual([]);
      expect(final.events.length).toBe(items);
      expect(final.keys.size).toBe(items);
      expect(ledger.unanswered.ingests + ledger.unanswered.acks).toBeGreaterThan(0);
      // On DynamoDB, the big payloads were split into chunk items (SQLite has none to count).
      expect(final.chunkItems ?? 'not applicable').not.toBe(0);
    }, 90_000);
  });
}
