/**
 * Measures the Lambda bundle as it ships: its size, and its cold init — the require of the
 * bundle plus the first invocation (a POST /v1/events), each in a fresh Node process, against
 * DynamoDB Local (started here unless TRIGGERS_DYNAMODB_ENDPOINT is set). Runs the cold start
 * as deployed (a container made on demand, which compiles an operation's schemas on its first
 * request), and interleaved with it two levers: NODE_OPTIONS=--enable-source-maps (which the
 * stack set before) and every schema compiled at init (what a container made for provisioned
 * concurrency does, and what every container did before).
 *
 *   npm run -s measure:lambda [-- --runs 10]
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { bundleLambda } from '../infra/src/lambda-bundle';
import { issueApiKey } from '../server/src/auth/api-keys';
import { DynamoKeyStore } from '../server/src/store/dynamodb/api-key-store';
import { createDynamoClients } from '../server/src/store/dynamodb/client';
import { createTables, deleteTables, dynamoTableNames } from '../server/src/store/dynamodb/tables';
import { ALL_SCOPES } from '../server/src/store/key-store';
import { startDynamoDbLocal } from '../tests/helpers/dynamodb-local';
import { restApiEvent } from '../tests/lambda/gateway-events';
import { startLambdaProcess } from '../tests/lambda/lambda-process';

interface ColdStart {
  requireMs: number;
  firstInvocationMs: number;
  coldInitMs: number;
  secondInvocationMs: number;
  /** The container's first inbox read, after the two ingests: another operation's first request. */
  firstInboxReadMs: number;
  /** From the function's own "ready" log line. */
  initMs: number;
  warmUpMs: number;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
  const runs = Number(values.runs);
  const outDir = mkdtempSync(path.join(tmpdir(), 'triggers-lambda-measure-'));
  const bundled = performance.now();
  const report = bundleLambda(outDir);
  const bundleMs = performance.now() - bundled;
  const gzipBytes = gzipSync(readFileSync(report.indexPath), { level: 9 }).length;

  const local = process.env.TRIGGERS_DYNAMODB_ENDPOINT ? undefined : await startDynamoDbLocal();
  const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT ?? (local?.endpoint as string);
  const stage = `measure-${randomUUID().slice(0, 8)}`;
  const clients = createDynamoClients({ region: 'us-east-1', endpoint });
  await createTables(clients.base, dynamoTableNames(stage));
  const key = await issueApiKey(new DynamoKeyStore(clients.documents, dynamoTableNames(stage).keys), {
    tenantId: 'measure',
    source: 'measure',
    scopes: [...ALL_SCOPES],
    createdAt: Date.now(),
  });
  const env = { TRIGGERS_STAGE: stage, TRIGGERS_DYNAMODB_ENDPOINT: endpoint, AWS_REGION: 'us-east-1' };
  const ingest = () =>
    restApiEvent({
      method: 'POST',
      url: '/v1/events',
      headers: { 'X-API-Key': key.apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: 'measure', event_type: 'cold.start', payload: { at: Date.now() } }),
    });

  const coldStart = async (extraEnv: Record<string, string>): Promise<ColdStart> => {
    const lambda = await startLambdaProcess(report.indexPath, { ...env, ...extraEnv });
    try {
      const first = await lambda.invoke(ingest());
      if (first.result.statusCode !== 201)
        throw new Error(`first invocation answered ${first.result.statusCode}`);
      const second = await lambda.invoke(ingest());
      const inbox = await lambda.invoke(
        restApiEvent({ method: 'GET', url: '/v1/inbox?limit=10', headers: { 'X-API-Key': key.apiKey } }),
      );
      if (inbox.result.statusCode !== 200)
        throw new Error(`the inbox read answered ${inbox.result.statusCode}`);
      const ready = (await lambda.waitForLine((line) => line.msg === 'Triggers API ready on Lambda')) as {
        init_ms: number;
        warm_up?: { ms: number };
      };
      return {
        requireMs: lambda.requireMs,
        firstInvocationMs: first.ms,
        coldInitMs: lambda.requireMs + first.ms,
        secondInvocationMs: second.ms,
        firstInboxReadMs: inbox.ms,
        initMs: ready.init_ms,
        // None when the schemas are compiled per operation, on first use.
        warmUpMs: ready.warm_up?.ms ?? 0,
      };
    } finally {
      await lambda.stop();
    }
  };

  const variants: Record<string, Record<string, string>> = {
    // The runner makes each container as Lambda does for a request (AWS_LAMBDA_INITIALIZATION_TYPE
    // on-demand). The stack sets no NODE_OPTIONS: stacks are source-mapped when logged
    // (lambda/source-mapped-stack.ts).
    'as deployed (on demand)': {},
    'with --enable-source-maps': { NODE_OPTIONS: '--enable-source-maps' },
    'every schema compiled at init': { AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' },
  };
  const results: Record<string, ColdStart[]> = Object.fromEntries(
    Object.keys(variants).map((name) => [name, []]),
  );
  await coldStart({}); // DynamoDB Local's own first requests are slow; not counted.
  for (let run = 0; run < runs; run += 1) {
    // Interleaved, so that a noisy moment on the machine hits both variants alike.
    for (const [name, extraEnv] of Object.entries(variants)) {
      results[name]?.push(await coldStart(extraEnv));
    }
  }
  await deleteTables(clients.base, dynamoTableNames(stage));
  clients.base.destroy();
  await local?.stop();
  rmSync(outDir, { recursive: true, force: true });

  const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  console.log(
    `Lambda bundle: index.js ${report.indexBytes.toLocaleString('en')} bytes (${kb(report.indexBytes)}; ${kb(gzipBytes)} gzipped), bundled in ${bundleMs.toFixed(0)} ms`,
  );
  console.log(
    `largest inputs: ${report.inputBytesByPackage
      .slice(0, 8)
      .map(([name, bytes]) => `${name} ${kb(bytes)}`)
      .join(', ')}`,
  );
  console.log(`\ncold init, ${runs} fresh processes per variant (median / p90, ms):`);
  const rows = Object.entries(results).map(([name, samples]) => {
    const cell = (pick: (sample: ColdStart) => number) =>
      `${quantile(samples.map(pick), 0.5).toFixed(0)} / ${quantile(samples.map(pick), 0.9).toFixed(0)}`;
    return {
      variant: name,
      require: cell((s) => s.requireMs),
      'first invocation': cell((s) => s.firstInvocationMs),
      'cold init (require + first)': cell((s) => s.coldInitMs),
      'of which warm-up': cell((s) => s.warmUpMs),
      'second invocation': cell((s) => s.secondInvocationMs),
      'first inbox read': cell((s) => s.firstInboxReadMs),
    };
  });
  console.table(rows);
  const deployed = quantile(
    (results['as deployed (on demand)'] ?? []).map((s) => s.coldInitMs),
    0.5,
  );
  const verdict = (value: number, goal: number, unit: string) =>
    value <= goal ? 'met' : `missed by ${(value - goal).toFixed(0)} ${unit} (${(value / goal).toFixed(2)}x)`;
  console.log(
    `goals: cold init as deployed ${deployed.toFixed(0)} ms median, goal <= 400 ms: ${verdict(deployed, 400, 'ms')}; bundle ${report.indexBytes.toLocaleString('en')} bytes, goal <= 2 MB (2,097,152): ${verdict(report.indexBytes, 2 * 1024 * 1024, 'bytes')}`,
  );
  const resultsDir = path.resolve(__dirname, '../bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `lambda-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      { date: new Date().toISOString(), indexBytes: report.indexBytes, gzipBytes, results },
      null,
      2,
    ),
  );
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
