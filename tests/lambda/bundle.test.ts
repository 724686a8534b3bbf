import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BundleReport, bundleLambda } from '../../infra/src/lambda-bundle';
import { issueApiKey } from '../../server/src/auth/api-keys';
import { REDOC_FOOTER_LOGO_URL } from '../../server/src/docs/redoc-script';
import { loadSpec } from '../../server/src/spec';
import { DynamoKeyStore } from '../../server/src/store/dynamodb/api-key-store';
import { createDynamoClients } from '../../server/src/store/dynamodb/client';
import { createTables, deleteTables, dynamoTableNames } from '../../server/src/store/dynamodb/tables';
import { ALL_SCOPES } from '../../server/src/store/key-store';
import { assertAnswerMatchesContract } from '../helpers/contract';
import { httpApiEvent, type RequestSpec, restApiEvent } from './gateway-events';
import { type LambdaProcess, type ProxyResult, startLambdaProcess } from './lambda-process';

/**
 * The Lambda as it ships: bundled by the same function the CDK stack uses, loaded in a fresh
 * Node process, invoked with API Gateway REST (v1) and HTTP API (v2) events, on DynamoDB Local.
 */
const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT as string;
const stage = `lambda-${process.pid}-${Date.now().toString(36)}`;
const tables = dynamoTableNames(stage);
const clients = createDynamoClients({ region: 'us-east-1', endpoint });
const outDir = mkdtempSync(path.join(tmpdir(), 'triggers-lambda-'));
const env = {
  TRIGGERS_STAGE: stage,
  TRIGGERS_DYNAMODB_ENDPOINT: endpoint,
  AWS_REGION: 'us-east-1',
  // Node's deprecations that only some versions or callers see, warned of here too.
  NODE_PENDING_DEPRECATION: '1',
};

let report: BundleReport;
let bundle: string;
let lambda: LambdaProcess;
let apiKey: string;
let coldInitMs: number;

type Build = (spec: RequestSpec) => object;

interface Answered {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown> & { error?: { code: string; request_id: string } };
  text: string;
}

/** Invokes the function and checks the answer against the contract, like every API test. */
async function call(build: Build, spec: RequestSpec, on: LambdaProcess = lambda): Promise<Answered> {
  const { result } = await on.invoke(build({ ...spec, headers: { 'X-API-Key': apiKey, ...spec.headers } }));
  const answered = decode(result);
  assertAnswerMatchesContract({ method: spec.method, path: spec.url, ...answered });
  return answered;
}

function decode(result: ProxyResult): Answered {
  const headers = Object.fromEntries(
    Object.entries(result.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]),
  );
  const text = result.isBase64Encoded ? Buffer.from(result.body, 'base64').toString('utf8') : result.body;
  const json = /^application\/json/.test(headers['content-type'] ?? '') && text ? JSON.parse(text) : {};
  return { status: result.statusCode, headers, body: json, text };
}

const newEvent = (n: number) =>
  JSON.stringify({ source: 'billing', event_type: 'invoice.paid', payload: { n, amount: 12.5 } });

beforeAll(async () => {
  report = bundleLambda(outDir);
  bundle = report.indexPath;
  await createTables(clients.base, tables);
  const key = await issueApiKey(new DynamoKeyStore(clients.documents, tables.keys), {
    tenantId: 'acme',
    source: 'billing',
    scopes: [...ALL_SCOPES],
    createdAt: Date.now(),
  });
  apiKey = key.apiKey;
  lambda = await startLambdaProcess(bundle, env);
  const first = await lambda.invoke(restApiEvent({ method: 'GET', url: '/v1/health' }));
  expect(first.result.statusCode).toBe(200);
  coldInitMs = lambda.requireMs + first.ms;
  process.stdout.write(
    `cold init of the bundle: require ${lambda.requireMs.toFixed(0)} ms + first invocation ${first.ms.toFixed(0)} ms = ${coldInitMs.toFixed(0)} ms\n`,
  );
}, 60_000);

afterAll(async () => {
  await lambda?.stop();
  await deleteTables(clients.base, tables);
  clients.base.destroy();
  rmSync(outDir, { recursive: true, force: true });
});

describe.each([
  ['a REST API (v1) event', restApiEvent as Build],
  ['an HTTP API (v2) event on the $default stage', ((spec) => httpApiEvent(spec)) as Build],
  ['an HTTP API (v2) event on a named stage', ((spec) => httpApiEvent(spec, 'prod')) as Build],
])('the bundled handler, given %s', (_name, build) => {
  it('creates an event: 201 with a Location header', async () => {
    const res = await call(build, {
      method: 'POST',
      url: '/v1/events',
      headers: { 'Content-Type': 'application/json' },
      body: newEvent(1),
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/events/${res.body.event_id}`);
  });

  it('redirects / to the reference, relative to the stage', async () => {
    const res = await call(build, { method: 'GET', url: '/' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('docs');
  });

  it('replays an idempotent create with the original event', async () => {
    const key = `lambda-${Math.random()}`;
    const spec = {
      method: 'POST',
      url: '/v1/events',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
      body: newEvent(2),
    };
    const first = await call(build, spec);
    const again = await call(build, spec);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.event_id).toBe(first.body.event_id);
  });

  it('reads a base64-encoded body', async () => {
    const res = await call(build, {
      method: 'POST',
      url: '/v1/events',
      headers: { 'Content-Type': 'application/json' },
      body: newEvent(3),
      base64: true,
    });
    expect(res.status).toBe(201);
    const read = await call(build, { method: 'GET', url: `/v1/events/${res.body.event_id}` });
    expect(read.body).toMatchObject({ payload: { n: 3, amount: 12.5 } });
  });

  it('pages the inbox, acks an event, and answers 409 to the second ack', async () => {
    const created = await call(build, {
      method: 'POST',
      url: '/v1/events',
      headers: { 'Content-Type': 'application/json' },
      body: newEvent(4),
    });
    const page = await call(build, { method: 'GET', url: '/v1/inbox?limit=100&source=billing' });
    expect(page.status).toBe(200);
    expect((page.body.events as Array<{ event_id: string }>).map((event) => event.event_id)).toContain(
      created.body.event_id,
    );

    const ack = await call(build, { method: 'POST', url: `/v1/events/${created.body.event_id}/ack` });
    expect(ack.status).toBe(200);
    expect(ack.body.status).toBe('acknowledged');
    const second = await call(build, { method: 'POST', url: `/v1/events/${created.body.event_id}/ack` });
    expect(second.status).toBe(409);
    expect(second.body.error?.code).toBe('CONFLICT');
  });

  it('answers a validation error in the envelope', async () => {
    const res = await call(build, {
      method: 'POST',
      url: '/v1/events',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: 'billing', payload: {} }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('VALIDATION_ERROR');
    expect(JSON.stringify(res.body.error)).toContain('event_type');
  });

  it('answers 404 in the envelope on an unknown path', async () => {
    const res = await call(build, { method: 'GET', url: '/v1/nothing-here' });
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe('NOT_FOUND');
  });

  it("keeps the client's X-Request-ID when it is safe", async () => {
    const res = await call(build, {
      method: 'GET',
      url: '/v1/me',
      headers: { 'X-Request-ID': 'client-chosen.id:42' },
    });
    expect(res.headers['x-request-id']).toBe('client-chosen.id:42');
    expect(res.body.request_id).toBe('client-chosen.id:42');
  });

  it("takes API Gateway's request id when the client sent none, or an unsafe one", async () => {
    const none = await call(build, {
      method: 'GET',
      url: '/v1/me',
      gatewayRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    });
    expect(none.headers['x-request-id']).toBe('c6af9ac6-7b61-11e6-9a41-93e8deadbeef');
    const unsafe = await call(build, {
      method: 'GET',
      url: '/v1/me',
      headers: { 'X-Request-ID': 'no spaces allowed' },
      gatewayRequestId: 'JKJaXmPLvHcESHA=',
    });
    // HTTP API ids end in `=`, which a request id may not carry: the rest of it is kept.
    expect(unsafe.headers['x-request-id']).toBe('JKJaXmPLvHcESHA');
    expect(unsafe.body.request_id).toBe('JKJaXmPLvHcESHA');
  });
});

describe('the bundled handler on AWS', () => {
  it('bundles no SQLite: the DynamoDB opener takes the stores interface as a type only', () => {
    // A value import of store/open-stores.ts would pull in better-sqlite3, whose native
    // addon is not in the bundle: the function would fail at init on AWS.
    const packages = report.inputBytesByPackage.map(([name]) => name);
    expect(packages).toContain('@aws-sdk/lib-dynamodb');
    expect(packages).not.toContain('better-sqlite3');
    expect(readFileSync(bundle, 'utf8')).not.toMatch(/better-sqlite3|better_sqlite3/);
  });

  it('bundles one copy of mime-db and of mime-types, where npm installs several', () => {
    // Each copy of mime-types builds its maps of every type when loaded: a cold start paid for four.
    const { sources } = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[] };
    expect(sources.filter((source) => source.endsWith('/mime-types/index.js'))).toHaveLength(1);
    expect(sources.filter((source) => source.endsWith('/mime-db/db.json'))).toHaveLength(1);
  });

  it("ships iconv-lite's code-page tables beside index.js, where its requires find them, not inside it", () => {
    const code = readFileSync(bundle, 'utf8');
    const required = [...code.matchAll(/require\("\.\/tables\/([\w-]+\.json)"\)/g)].map((match) => match[1]);
    expect(new Set(required)).toEqual(new Set(readdirSync(path.join(outDir, 'tables'))));
    expect(required).toContain('shiftjis.json');
    // Each is iconv-lite's own file, as it would read it from node_modules.
    const tables = path.join(path.dirname(require.resolve('iconv-lite/package.json')), 'encodings/tables');
    for (const file of required) {
      expect(readFileSync(path.join(outDir, 'tables', file as string))).toEqual(
        readFileSync(path.join(tables, file as string)),
      );
    }
  });

  it('logs no deprecation warning while it validates requests with a query', async () => {
    // Node 24 warns of url.parse (DEP0169) to code outside node_modules, which the bundle is:
    // the validator's use of it showed in the log of every cold start. (Pending deprecations
    // are on, so that an older Node warns of it too.)
    for (const url of ['/v1/inbox?limit=5&source=billing', '/v1/events?limit=1']) {
      const res = await call(restApiEvent, { method: 'GET', url });
      expect(res.status).toBe(200);
    }
    expect(lambda.errorOutput()).not.toContain('DEP0169');
  });

  it('rejects the development key: AUTH_MODE is aws unless set otherwise', async () => {
    const res = await call(restApiEvent, {
      method: 'GET',
      url: '/v1/me',
      headers: { 'X-API-Key': 'test-api-key-12345' },
    });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('UNAUTHORIZED');
  });

  it("counts failed authentications per caller (API Gateway's sourceIp), so one caller cannot lock out another", async () => {
    const attempt = (build: Build, sourceIp: string, key: string) =>
      call(build, { method: 'GET', url: '/v1/me', headers: { 'X-API-Key': key }, sourceIp });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1)
      statuses.push((await attempt(restApiEvent, '203.0.113.9', 'tk_wrong')).status);
    // Another caller, on the other kind of event: its own count is untouched (401, not 429).
    const other = await attempt(httpApiEvent, '203.0.113.10', 'tk_wrong');
    // A key verified in the last 10 s passes even from a blocked address (a shared NAT keeps working).
    const cached = await attempt(restApiEvent, '203.0.113.9', apiKey);

    expect(statuses).toEqual([...Array<number>(10).fill(401), 429]);
    expect(other.status).toBe(401);
    expect(cached.status).toBe(200);
  });

  it('serves the contract and the docs page from the files shipped in the bundle', async () => {
    const spec = decode((await lambda.invoke(restApiEvent({ method: 'GET', url: '/openapi.yaml' }))).result);
    expect(spec.status).toBe(200);
    expect(spec.text).toMatch(/^openapi: 3\.1/m);
    const docs = decode((await lambda.invoke(restApiEvent({ method: 'GET', url: '/docs' }))).result);
    expect(docs.text).toContain('<redoc spec-url="docs/reference.json"');
    const reference = decode(
      (await lambda.invoke(restApiEvent({ method: 'GET', url: '/docs/reference.json' }))).result,
    );
    expect(reference.status).toBe(200);
    expect(JSON.parse(reference.text).paths['/v1/events'].post['x-codeSamples']).toEqual([
      { lang: 'Shell', label: 'curl', source: expect.stringMatching(/^curl -X POST /) },
    ]);
    const redoc = decode(
      (await lambda.invoke(restApiEvent({ method: 'GET', url: '/docs/redoc.standalone.js' }))).result,
    );
    expect(redoc.status).toBe(200);
    expect(redoc.text.length).toBeGreaterThan(500_000);
    expect(redoc.text).not.toContain(REDOC_FOOTER_LOGO_URL);
  });

  it('follows an inbox cursor made by another container (the cursor secret is shared through DynamoDB)', async () => {
    for (const n of [10, 11, 12]) {
      await call(restApiEvent, {
        method: 'POST',
        url: '/v1/events',
        headers: { 'Content-Type': 'application/json' },
        body: newEvent(n),
      });
    }
    const first = await call(restApiEvent, { method: 'GET', url: '/v1/inbox?limit=1' });
    const cursor = (first.body.pagination as { next_cursor: string }).next_cursor;
    expect(cursor).toEqual(expect.any(String));
    const other = await startLambdaProcess(bundle, env);
    try {
      const next = await call(
        restApiEvent,
        { method: 'GET', url: `/v1/inbox?limit=1&cursor=${encodeURIComponent(cursor)}` },
        other,
      );
      expect(next.status).toBe(200);
      expect(next.body.events).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('made the app once for the container, and (made on demand) compiled no schema at init', () => {
    const readyLines = lambda.outputLines().filter((line) => line.msg === 'Triggers API ready on Lambda');
    // Every test above invoked this same process: one init served them all.
    expect(readyLines).toHaveLength(1);
    const ready = readyLines[0] as
      | { validators_compiled: string; warm_up?: unknown; auth_mode: string }
      | undefined;
    expect(ready?.auth_mode).toBe('aws');
    // The request that caused the cold start compiled only its own operation's schemas; every
    // operation the tests above called compiled its own on its first request, and answered.
    expect(ready?.validators_compiled).toBe("on each operation's first request");
    expect(ready).not.toHaveProperty('warm_up');
  });

  it('compiles the validator for every operation at init in a container made for provisioned concurrency', async () => {
    const provisioned = await startLambdaProcess(bundle, {
      ...env,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency',
    });
    try {
      const created = await call(
        restApiEvent,
        {
          method: 'POST',
          url: '/v1/events',
          headers: { 'Content-Type': 'application/json' },
          body: newEvent(99),
        },
        provisioned,
      );
      expect(created.status).toBe(201);
      const ready = (await provisioned.waitForLine(
        (line) => line.msg === 'Triggers API ready on Lambda',
      )) as {
        validators_compiled: string;
        warm_up: { requests: number; unexpected: string[] };
      };
      expect(ready.validators_compiled).toBe('at init');
      expect(ready.warm_up.unexpected).toEqual([]);
      // One request per operation and media type of its body (CloudEvents ingest has three).
      const requests = Object.entries(loadSpec().document.paths)
        .filter(([template]) => template.startsWith('/v1/'))
        .flatMap(([, item]) =>
          Object.entries(item as Record<string, { requestBody?: { content?: object } }>)
            .filter(([key]) => ['get', 'post', 'delete'].includes(key))
            .map(([, operation]) => Math.max(1, Object.keys(operation.requestBody?.content ?? {}).length)),
        );
      expect(ready.warm_up.requests).toBe(requests.reduce((sum, n) => sum + n, 0));
    } finally {
      await provisioned.stop();
    }
  });

  it('emits CloudWatch EMF metrics for events ingested, replayed, acked and errors by code', () => {
    const emf = lambda.outputLines().filter((line) => line._aws !== undefined);
    const total = (name: string, where: (line: Record<string, unknown>) => boolean = () => true) =>
      emf
        .filter(where)
        .reduce((sum, line) => sum + (typeof line[name] === 'number' ? (line[name] as number) : 0), 0);
    expect(total('EventsIngested')).toBeGreaterThanOrEqual(15);
    expect(total('EventsReplayed')).toBe(3);
    expect(total('EventsAcked')).toBe(3);
    expect(total('ErrorsAnswered', (line) => line.code === 'CONFLICT')).toBe(3);
    expect(total('ErrorsAnswered', (line) => line.code === 'VALIDATION_ERROR')).toBe(3);
    const declared = emf.flatMap(
      (line) =>
        (line._aws as { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> })
          .CloudWatchMetrics,
    );
    expect(new Set(declared.map((metric) => metric.Namespace))).toEqual(new Set(['TriggersApi']));
    expect(emf.every((line) => line.stage === stage && line.service === 'triggers-api')).toBe(true);
  });

  it('answers 503 UNAVAILABLE in the envelope while DynamoDB cannot be reached at init', async () => {
    const cut = await startLambdaProcess(bundle, {
      ...env,
      TRIGGERS_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
    });
    try {
      const { result } = await cut.invoke(
        restApiEvent({ method: 'GET', url: '/v1/me', gatewayRequestId: 'gw-1' }),
      );
      const answered = decode(result);
      expect(answered.status).toBe(503);
      expect(answered.headers['retry-after']).toBe('1');
      expect(answered.body.error).toMatchObject({ code: 'UNAVAILABLE', request_id: 'gw-1' });
    } finally {
      await cut.stop();
    }
  });

  it('logs stack traces mapped to the sources, without --enable-source-maps', async () => {
    const cut = await startLambdaProcess(bundle, {
      ...env,
      TRIGGERS_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
    });
    try {
      await cut.invoke(restApiEvent({ method: 'GET', url: '/v1/me' }));
      const failed = (await cut.waitForLine((line) => String(line.msg).startsWith('init failed'))) as {
        err: { stack: string };
      };
      const frames = failed.err.stack.split('\n').filter((line) => line.trim().startsWith('at '));
      expect(frames.length).toBeGreaterThan(0);
      // No frame left in the minified bundle; each names a source of the repository instead.
      expect(frames.filter((frame) => frame.includes(`${bundle}:`))).toEqual([]);
      expect(
        frames.some((frame) => /[(\s](server\/src|node_modules)\/[^:]+\.[jt]s:\d+:\d+/.test(frame)),
      ).toBe(true);
    } finally {
      await cut.stop();
    }
  });
});
