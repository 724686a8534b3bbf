import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';
import { callApi, inPool, NoAnswerError, sleep } from './ingest-ledger';

/**
 * Crash checker for webhook delivery (issue 14), on the real server process: events are
 * ingested for two subscriptions while the receiver fails a third of the first attempts (so
 * retries are pending) and the server is killed with SIGKILL mid-load, twice, then restarted
 * on the same SQLite file. What must hold: every event the API answered 201 for reaches every
 * subscription it matches with a 2xx answer, at least once. Duplicates (an attempt cut by the
 * kill is made again) are counted and reported, never an error. Every webhook received is
 * verified with the standardwebhooks library.
 *
 * The server runs on the real clock, so the retry schedule is one second per retry, the
 * attempt timeout two seconds (claims of a killed process come back after 5 s), and the drain
 * waits for that for real. No assertion depends on how long anything took.
 */

const EVENTS_PER_CYCLE = 150;
const CYCLES = 3;
const DRAIN_MS = 45_000;

const children = new Set<ServerProcess>();

async function start(dbPath: string): Promise<ServerProcess> {
  const server = await startServer({
    AUTH_MODE: 'local',
    TRIGGERS_SQLITE_PATH: dbPath,
    TRIGGERS_WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1,1,1',
    TRIGGERS_WEBHOOK_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'warn',
  });
  children.add(server);
  return server;
}

describe('Webhook delivery across kill -9 (real process)', () => {
  let dir: string;
  let receiver: WebhookReceiver;
  beforeAll(() => {
    ensureServerBuilt();
  });
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-webhook-crash-'));
    receiver = await startReceiver('');
  });
  afterEach(async () => {
    for (const child of children) await killServer(child);
    children.clear();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every acknowledged event to every matching subscription, whatever the kills', async () => {
    // Prepare: two subscriptions (all events; order.* only), and a receiver that fails a third
    // of first attempts and answers some slowly, so that kills find deliveries in flight
    const dbPath = path.join(dir, 'triggers.db');
    let server = await start(dbPath);
    const secrets = new Map<string, string>();
    for (const [name, eventTypes] of [
      ['all', []],
      ['orders', ['order.*']],
    ] as const) {
      const res = await callApi(server.baseUrl, 'POST', '/v1/subscriptions', {
        body: { target_url: `${receiver.url}/${name}`, event_types: eventTypes },
      });
      expect(res.status).toBe(201);
      secrets.set(`/${name}`, res.body.secret as string);
    }
    const firstSeen = new Set<string>();
    receiver.respond = (webhook) => {
      const id = `${webhook.headers['webhook-id']}`;
      const first = !firstSeen.has(id);
      firstSeen.add(id);
      if (first && id.charCodeAt(id.length - 1) % 3 === 0) return { status: 500 };
      return { status: 200, delayMs: id.charCodeAt(id.length - 2) % 5 === 0 ? 300 : 0 };
    };
    const acknowledged: Array<{ id: string; type: string }> = [];
    let indeterminate = 0;

    // Act: ingest, kill mid-load, restart on the same file; three cycles, two kills
    for (let cycle = 0; cycle < CYCLES; cycle += 1) {
      const base = server.baseUrl;
      const kill = cycle < CYCLES - 1;
      let sent = 0;
      const load = inPool(
        Array.from({ length: EVENTS_PER_CYCLE }, (_, i) => i),
        8,
        async (i) => {
          const type = i % 2 === 0 ? 'order.created' : 'user.signup';
          try {
            const res = await callApi(base, 'POST', '/v1/events', {
              body: { source: 'crash', event_type: type, payload: { cycle, i } },
              timeoutMs: 10_000,
            });
            if (res.status === 201) acknowledged.push({ id: res.body.event_id as string, type });
            else throw new Error(`ingest answered ${res.status}`);
          } catch (error) {
            if (!(error instanceof NoAnswerError)) throw error;
            indeterminate += 1;
          }
          sent += 1;
        },
      );
      if (kill) {
        while (sent < EVENTS_PER_CYCLE / 2) await sleep(5);
        await killServer(server);
        children.delete(server);
      }
      await load;
      if (kill) server = await start(dbPath);
    }

    // Drain: until every acknowledged event reached each subscription it matches with a 2xx
    const expected = new Set<string>();
    for (const event of acknowledged) {
      expected.add(`/all ${event.id}`);
      if (event.type.startsWith('order.')) expected.add(`/orders ${event.id}`);
    }
    const succeeded = () => {
      const done = new Set<string>();
      for (const webhook of receiver.received) {
        const answer = webhook.answer;
        if (answer !== undefined && answer >= 200 && answer < 300)
          done.add(`${webhook.path} ${webhook.headers['webhook-id']}`);
      }
      return done;
    };
    const deadline = Date.now() + DRAIN_MS;
    while (Date.now() < deadline && [...expected].some((pair) => !succeeded().has(pair))) await sleep(100);

    // Assess
    const done = succeeded();
    const lost = [...expected].filter((pair) => !done.has(pair));
    const attempts = new Map<string, number>();
    for (const webhook of receiver.received) {
      const pair = `${webhook.path} ${webhook.headers['webhook-id']}`;
      attempts.set(pair, (attempts.get(pair) ?? 0) + 1);
      const secret = secrets.get(webhook.path);
      if (secret === undefined) throw new Error(`a webhook to an unknown path: ${webhook.path}`);
      new Webhook(secret).verify(webhook.body, webhook.headers as Record<string, string>);
    }
    const successesPerPair = new Map<string, number>();
    for (const webhook of receiver.received) {
      if (webhook.answer === undefined || webhook.answer >= 300) continue;
      const pair = `${webhook.path} ${webhook.headers['webhook-id']}`;
      successesPerPair.set(pair, (successesPerPair.get(pair) ?? 0) + 1);
    }
    const duplicates = [...successesPerPair.values()].reduce((sum, n) => sum + n - 1, 0);
    const retried = [...attempts.values()].filter((n) => n > 1).length;
    console.log(
      `webhook crash check: ${acknowledged.length} events acknowledged (${indeterminate} ingests cut by a kill), ` +
        `${expected.size} deliveries expected, ${receiver.received.length} webhooks received, ` +
        `${retried} pairs attempted more than once, ${duplicates} duplicate successes, ${lost.length} lost`,
    );
    expect(lost).toEqual([]);
    // The check did real work: more than the last, uncut cycle's events were acknowledged.
    expect(acknowledged.length).toBeGreaterThan(EVENTS_PER_CYCLE);
  }, 180_000);
});
