import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runExamples, sectionExamples, staleExamples } from '../helpers/readme-examples';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';

const ROOT = path.resolve(__dirname, '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('README: running on DynamoDB Local', () => {
  let server: ServerProcess | undefined;

  beforeAll(() => ensureServerBuilt());
  afterAll(async () => {
    if (server) await killServer(server);
  });

  it('works as printed: tables, a key, and the API on them (DynamoDB Local started by the tests)', async () => {
    // Prepare: the first block starts DynamoDB Local on 8000 and the last one the API; the
    // test's global setup has started DynamoDB Local already, so the blocks between run
    // against that endpoint instead, and the test starts the API itself.
    const examples = sectionExamples(README, 'Running on DynamoDB');
    expect(examples[0]?.code.trim()).toBe('npm run -s dynamodb-local');
    expect(examples.at(-1)?.code.trim()).toBe('npm start');
    const setup = examples.slice(1, -1);
    expect(setup.length).toBeGreaterThan(0);
    const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT as string;
    // A stage of its own, so that this test's tables are new; the README's is the default, dev.
    const stage = `readme-${randomUUID().slice(0, 8)}`;

    // Act: the setup blocks as printed, then what `npm start` runs, with the environment
    // those blocks exported.
    const run = await runExamples(setup, {
      cwd: ROOT,
      env: { ...process.env, TRIGGERS_STAGE: stage },
      substitutions: [['http://127.0.0.1:8000', endpoint]],
      epilogue: 'env | grep ^TRIGGERS_',
    });
    const exported = Object.fromEntries(
      run.epilogue
        .split('\n')
        .filter((line) => line.startsWith('TRIGGERS_'))
        .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    server = await startServer({ ...exported, LOG_LEVEL: 'warn' });

    // Assess: each block printed what the README shows (only the stage and the port differ),
    // and the API runs on DynamoDB with the key it printed
    const outputs = run.outputs.map((output) => output.replaceAll(stage, 'dev'));
    const stale = staleExamples(setup, outputs);
    if (stale.length > 0)
      throw new Error(`${stale.length} stale README example(s):\n\n${stale.join('\n\n')}`);
    const key = JSON.parse(/\{"api_key".*\}/.exec(run.outputs.join('\n'))?.[0] ?? 'null');
    const base = server.baseUrl;
    const health = await (await fetch(`${base}/v1/health`)).json();
    expect(health).toMatchObject({ status: 'healthy', store: 'dynamodb' });
    const headers = { 'X-API-Key': key.api_key, 'Content-Type': 'application/json' };
    const ingest = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ source: 'shop', event_type: 'order.created', payload: { n: 1 } }),
    });
    const event = (await ingest.json()) as { event_id: string };
    const inbox = (await (await fetch(`${base}/v1/inbox`, { headers })).json()) as {
      events: Array<{ event_id: string }>;
    };
    const ack = await fetch(`${base}/v1/events/${event.event_id}/ack`, { method: 'POST', headers });
    expect(ingest.status).toBe(201);
    expect(inbox.events.map((e) => e.event_id)).toEqual([event.event_id]);
    expect(ack.status).toBe(200);
  }, 90_000);
});
