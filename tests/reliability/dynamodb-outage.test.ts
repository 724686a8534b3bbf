import { randomUUID } from 'node:crypto';
import { issueApiKey } from '../../server/src/auth/api-keys';
import { DynamoKeyStore } from '../../server/src/store/dynamodb/api-key-store';
import { createDynamoClients, type DynamoClients } from '../../server/src/store/dynamodb/client';
import { createTables, dynamoTableNames } from '../../server/src/store/dynamodb/tables';
import { type DynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';
import {
  ensureServerBuilt,
  isRunning,
  killServer,
  type ServerProcess,
  startServer,
} from '../helpers/server-process';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import {
  callApi,
  describeUnavailable,
  type HttpAnswer,
  IngestLedger,
  sleep,
  waitUntilHealthy,
} from './ingest-ledger';

/**
 * DynamoDB going away under the real server process (`node server/dist/local.js` with
 * TRIGGERS_STORE=dynamodb), on a DynamoDB Local of its own that the server reaches through a
 * TCP proxy. Two faults: the endpoint gone (the proxy closes its port and drops every open
 * connection: what a client sees when the service dies) and the JVM frozen with SIGSTOP
 * (connections accepted, never answered). The proxy, not a stopped JVM, makes the first
 * fault because DynamoDB Local itself may lose a write it had just acknowledged when it is
 * stopped (seen with SIGKILL, and once with SIGTERM): that would be the emulator's loss,
 * not the server's, and this test is about the server.
 */

/**
 * The longest a store fault may take to be answered: the Lambda's default timeout, past
 * which API Gateway answers a bare 504 instead of our 503 (store/dynamodb/client.ts bounds one
 * DynamoDB call at ~6.6 s). Not a performance figure: without the bound, a hung endpoint
 * holds requests for the SDK's 300 s socket default.
 */
const ANSWER_BOUND_MS = 10_000;

/** An event of its own for the probes below, so that their acks touch no ledger's event. */
async function probeEvent(baseUrl: string): Promise<string> {
  const body = { source: 'outage-probe', event_type: 'probe', payload: {} };
  const answer = await callApi(baseUrl, 'POST', '/v1/events', { body });
  if (answer.status !== 201) throw new Error(`probe event: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.event_id as string;
}

/** Every route that needs the store, answered while it is down. */
async function callEveryStoreRoute(baseUrl: string, eventId: string, unusedKey: string) {
  const event = { source: 'outage-probe', event_type: 'probe', payload: { n: 1 } };
  const calls: Record<string, Promise<HttpAnswer>> = {
    'POST /v1/events': callApi(baseUrl, 'POST', '/v1/events', { body: event }),
    'POST /v1/events/bulk': callApi(baseUrl, 'POST', '/v1/events/bulk', { body: { items: [event, event] } }),
    'GET /v1/events/{id}': callApi(baseUrl, 'GET', `/v1/events/${eventId}`),
    'GET /v1/inbox': callApi(baseUrl, 'GET', '/v1/inbox?limit=5'),
    'POST /v1/events/{id}/ack': callApi(baseUrl, 'POST', `/v1/events/${eventId}/ack`),
    'POST /v1/events/bulk/ack': callApi(baseUrl, 'POST', '/v1/events/bulk/ack', {
      body: { event_ids: [eventId] },
    }),
    // An id that names nothing: the delete must still reach the store.
    'DELETE /v1/events/{id}': callApi(baseUrl, 'DELETE', `/v1/events/${randomUUID()}`),
    // A stored key never used yet: authentication itself needs the store (503, never 401).
    'GET /v1/me (stored key)': callApi(baseUrl, 'GET', '/v1/me', { apiKey: unusedKey }),
  };
  const answers = await Promise.all(Object.values(calls));
  return Object.fromEntries(Object.keys(calls).map((name, index) => [name, answers[index] as HttpAnswer]));
}

/** Not 503 UNAVAILABLE with Retry-After within the bound: what is wrong, per route. */
function faultAnswerProblems(answers: Record<string, HttpAnswer>): Record<string, string> {
  const problems: Record<string, string> = {};
  for (const [name, answer] of Object.entries(answers)) {
    const problem =
      describeUnavailable(answer) ??
      (answer.ms > ANSWER_BOUND_MS ? `answered after ${answer.ms} ms` : undefined);
    if (problem) problems[name] = problem;
  }
  return problems;
}

interface Logged {
  op: string;
  startedAt: number;
  answer: HttpAnswer | undefined;
}

/**
 * Steady traffic from `workers` clients: ingests (through the ledger), gets of created
 * events and acks of events not acked yet; every answer logged with its start time. Runs
 * until `stop()`.
 */
function steadyTraffic(baseUrl: string, ledger: IngestLedger, workers: number) {
  const log: Logged[] = [];
  /** Acks answered 200, and acks answered 503 (maybe applied, maybe not). */
  const acked = new Set<string>();
  const ackUnknown = new Set<string>();
  let stopped = false;
  const worker = async () => {
    for (let n = 0; !stopped; n += 1) {
      const startedAt = Date.now();
      const created = [...ledger.created.values()];
      const eventId = created[Math.floor(Math.random() * created.length)];
      if (n % 4 !== 3 || eventId === undefined || acked.has(eventId) || ackUnknown.has(eventId)) {
        log.push({ op: 'ingest', startedAt, answer: await ledger.ingest(baseUrl) });
      } else if (n % 8 === 3) {
        log.push({ op: 'get', startedAt, answer: await callApi(baseUrl, 'GET', `/v1/events/${eventId}`) });
      } else {
        ackUnknown.add(eventId);
        const answer = await callApi(baseUrl, 'POST', `/v1/events/${eventId}/ack`);
        if (answer.status === 200) {
          acked.add(eventId);
          ackUnknown.delete(eventId);
        }
        log.push({ op: 'ack', startedAt, answer });
      }
      // A client that keeps going, not a tight loop: fast failures would flood the log.
      await sleep(5);
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  return {
    log,
    acked,
    ackUnknown,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** What the log shows for requests started in [from, to): statuses other than `allowed`. */
function unexpectedIn(log: Logged[], from: number, to: number, allowed: (answer: HttpAnswer) => boolean) {
  return log
    .filter((entry) => entry.startedAt >= from && entry.startedAt < to)
    .filter((entry) => !entry.answer || !allowed(entry.answer) || entry.answer.ms > ANSWER_BOUND_MS)
    .map((entry) =>
      entry.answer
        ? `${entry.op}: ${entry.answer.status} ${JSON.stringify(entry.answer.body)} in ${entry.answer.ms} ms`
        : `${entry.op}: no answer`,
    );
}

describe('The real server on DynamoDB when DynamoDB goes away', () => {
  let local: DynamoDbLocal;
  let proxy: TcpProxy;
  let admin: DynamoClients;
  let server: ServerProcess | undefined;
  let keys: DynamoKeyStore;

  beforeAll(async () => {
    ensureServerBuilt();
    local = await startDynamoDbLocal();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: local.port });
    admin = createDynamoClients({ region: 'us-east-1', endpoint: local.endpoint });
    const tables = dynamoTableNames(`outage-${randomUUID().slice(0, 8)}`);
    await createTables(admin.base, tables);
    keys = new DynamoKeyStore(admin.documents, tables.keys);
    server = await startServer({
      TRIGGERS_STORE: 'dynamodb',
      TRIGGERS_DYNAMODB_ENDPOINT: proxy.endpoint,
      TRIGGERS_STAGE: tables.events.replace('triggers-api-events-', ''),
      AUTH_MODE: 'local',
      LOG_LEVEL: 'fatal',
    });
  }, 90_000);

  afterAll(async () => {
    if (server) await killServer(server);
    await proxy?.close();
    local?.resume();
    await local?.stop();
    admin?.base.destroy();
  }, 30_000);

  async function unusedStoredKey(): Promise<string> {
    const issued = await issueApiKey(keys, {
      tenantId: 'outage',
      source: 'outage',
      scopes: ['events:write', 'events:read', 'events:ack'],
      createdAt: Date.now(),
    });
    return issued.apiKey;
  }

  it('answers 503 UNAVAILABLE with Retry-After while DynamoDB is down, health 503, and serves again without a restart once it is back', async () => {
    // Prepare: steady traffic, and a stored key that no request has used yet
    const running = server as ServerProcess;
    const pid = running.child.pid;
    const unusedKey = await unusedStoredKey();
    const probeEventId = await probeEvent(running.baseUrl);
    const ledger = new IngestLedger('outage-down');
    const traffic = steadyTraffic(running.baseUrl, ledger, 6);
    while (ledger.created.size < 40) await sleep(20);

    // Act: take the endpoint away mid-traffic; it is gone (port closed, open connections
    // dropped) once cut() resolves, and stays gone until the traffic has stopped.
    await proxy.cut();
    const goneAt = Date.now();
    await sleep(1_000);
    const createdBefore = new Map(ledger.created);
    const during = await callEveryStoreRoute(running.baseUrl, probeEventId, unusedKey);
    const healthDuring = await callApi(running.baseUrl, 'GET', '/v1/health');
    const readyDuring = await callApi(running.baseUrl, 'GET', '/v1/health/ready');
    const specDuring = await callApi(running.baseUrl, 'GET', '/openapi.yaml');
    await traffic.stop();
    await proxy.restore();
    await waitUntilHealthy(running.baseUrl, 20_000);
    const after = await ledger.ingest(running.baseUrl);
    const readyAfter = await callApi(running.baseUrl, 'GET', '/v1/health/ready');
    const retried = await ledger.retryIndeterminate(running.baseUrl);
    await ledger.verifyReadable(running.baseUrl);
    const stored = await ledger.verifyNoExtraEvents(running.baseUrl);
    const ackedStillAcked = await Promise.all(
      [...traffic.acked].map(
        async (id) =>
          (await callApi(running.baseUrl, 'GET', `/v1/events/${id}`)).body.status === 'acknowledged',
      ),
    );

    // Assess
    console.log(
      `dynamodb down: ${ledger.created.size} events created, ${createdBefore.size} before the outage, ` +
        `${traffic.log.length} requests of steady traffic, ${retried} indeterminate ingests retried, ` +
        `${stored} pending events stored, ${traffic.acked.size} acked`,
    );
    expect(faultAnswerProblems(during)).toEqual({});
    expect(unexpectedIn(traffic.log, goneAt, Infinity, (answer) => !describeUnavailable(answer))).toEqual([]);
    expect(
      unexpectedIn(
        traffic.log,
        0,
        goneAt,
        (answer) => answer.status === 201 || answer.status === 200 || !describeUnavailable(answer),
      ),
    ).toEqual([]);
    expect(traffic.log.filter((entry) => entry.startedAt >= goneAt).length).toBeGreaterThan(10);
    expect(healthDuring.status).toBe(503);
    expect(healthDuring.body.status).toBe('unhealthy');
    expect(Number(healthDuring.headers['retry-after'])).toBeGreaterThan(0);
    // Issue 15: readiness goes 503 NOT_READY with the store, and 200 once a write succeeds.
    expect(readyDuring.status).toBe(503);
    expect((readyDuring.body.error as { code?: unknown } | undefined)?.code).toBe('NOT_READY');
    expect(Number(readyDuring.headers['retry-after'])).toBeGreaterThan(0);
    expect(specDuring.status).toBe(200);
    expect(isRunning(running)).toBe(true);
    expect(running.child.pid).toBe(pid);
    expect(after?.status).toBe(201);
    expect(readyAfter.status).toBe(200);
    expect(ledger.unanswered).toBe(0);
    expect(ledger.problems).toEqual([]);
    expect(ledger.indeterminate.size).toBe(0);
    // Pending: every created event but the acked ones, and those whose ack was cut off.
    expect(stored).toBeLessThanOrEqual(ledger.created.size - traffic.acked.size);
    expect(stored).toBeGreaterThanOrEqual(ledger.created.size - traffic.acked.size - traffic.ackUnknown.size);
    expect(ackedStillAcked.every(Boolean)).toBe(true);
  }, 60_000);

  it('answers 503 UNAVAILABLE within a bounded time while DynamoDB hangs, and serves again once it resumes', async () => {
    // Prepare: events stored before the endpoint hangs
    const running = server as ServerProcess;
    const unusedKey = await unusedStoredKey();
    const probeEventId = await probeEvent(running.baseUrl);
    const ledger = new IngestLedger('outage-hang');
    for (let n = 0; n < 10; n += 1) await ledger.ingest(running.baseUrl);

    // Act: freeze the JVM (its port still accepts connections) while requests arrive
    local.pause();
    let during: Record<string, HttpAnswer>;
    let healthDuring: HttpAnswer;
    let ingestsDuring: Array<HttpAnswer | undefined>;
    try {
      [during, healthDuring, ingestsDuring] = await Promise.all([
        callEveryStoreRoute(running.baseUrl, probeEventId, unusedKey),
        callApi(running.baseUrl, 'GET', '/v1/health'),
        Promise.all(Array.from({ length: 5 }, () => ledger.ingest(running.baseUrl))),
      ]);
    } finally {
      local.resume();
    }
    await waitUntilHealthy(running.baseUrl, 20_000);
    // Ingests that timed out may still have been applied once the JVM resumed: the retry
    // with the same key must name that event, never make a second one.
    const retried = await ledger.retryIndeterminate(running.baseUrl);
    await ledger.verifyReadable(running.baseUrl);
    const stored = await ledger.verifyNoExtraEvents(running.baseUrl);

    // Assess
    const slowest = Math.max(...Object.values(during).map((answer) => answer.ms));
    console.log(
      `dynamodb hung: store routes answered 503 in at most ${slowest} ms, health in ${healthDuring.ms} ms; ` +
        `${retried} indeterminate ingests retried, ${stored} events stored`,
    );
    expect(faultAnswerProblems(during)).toEqual({});
    expect(
      ingestsDuring.map((answer) =>
        answer && answer.ms <= ANSWER_BOUND_MS ? describeUnavailable(answer) : 'no answer within the bound',
      ),
    ).toEqual(Array(5).fill(undefined));
    expect(healthDuring.status).toBe(503);
    expect(healthDuring.body.status).toBe('unhealthy');
    expect(healthDuring.ms).toBeLessThan(ANSWER_BOUND_MS);
    expect(ledger.unanswered).toBe(0);
    expect(ledger.problems).toEqual([]);
    expect(ledger.indeterminate.size).toBe(0);
    expect(stored).toBe(15);
  }, 60_000);
});
