import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The shell blocks of the README's "Running on DynamoDB" section, in order. */
function sectionBlocks(): string[] {
  const section = README.split('\n## Running on DynamoDB\n')[1]?.split('\n## ')[0] ?? '';
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] as string);
}

describe('README: running on DynamoDB Local', () => {
  let server: ServerProcess | undefined;

  beforeAll(() => ensureServerBuilt());
  afterAll(async () => {
    if (server) await killServer(server);
  });

  it('works as printed: tables, a key, and the API on them (DynamoDB Local started by the tests)', async () => {
    // Prepare: the first block starts DynamoDB Local on 8000; the test's global setup has
    // started one already, so the second block runs against that endpoint instead.
    const [startLocal, commands] = sectionBlocks();
    expect(startLocal?.trim()).toBe('npm run -s dynamodb-local');
    const lines = (commands as string).trim().split('\n');
    expect(lines.at(-1)).toBe('npm start');
    const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT as string;
    // A stage of its own, so that this test's tables are new.
    const stage = `readme-${randomUUID().slice(0, 8)}`;
    const setup = lines.slice(0, -1).join('\n').replaceAll('http://127.0.0.1:8000', endpoint);

    // Act: every line but `npm start` as printed; then what `npm start` runs, with the
    // environment those lines exported.
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', `${setup}\nenv | grep ^TRIGGERS_`], {
      cwd: ROOT,
      env: { ...process.env, TRIGGERS_STAGE: stage },
      timeout: 60_000,
    });
    const exported = Object.fromEntries(
      stdout
        .split('\n')
        .filter((line) => line.startsWith('TRIGGERS_'))
        .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    server = await startServer({ ...exported, LOG_LEVEL: 'warn' });

    // Assess: the tables script and the keys CLI printed their JSON, the API runs on DynamoDB
    const tables = JSON.parse(/\{"endpoint".*\}/.exec(stdout)?.[0] ?? 'null');
    expect(tables.created).toEqual([`triggers-api-events-${stage}`, `triggers-api-keys-${stage}`]);
    const key = JSON.parse(/\{"api_key".*\}/.exec(stdout)?.[0] ?? 'null');
    expect(key).toMatchObject({ tenant_id: 'acme', source: 'shop' });
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
