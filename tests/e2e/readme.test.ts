import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureServerBuilt, freePort, type ServerProcess, startServer } from '../helpers/server-process';

const run = promisify(execFile);
const README = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

/** The shell blocks of a README section, in order, as one script. */
function sectionScript(title: string, atLeast: number): string {
  const section = README.split(`\n## ${title}\n`)[1]?.split('\n## ')[0] ?? '';
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] as string);
  if (blocks.length < atLeast)
    throw new Error(`expected the ${title} section to hold its examples, found ${blocks.length}`);
  return blocks.join('\n');
}

/** Checks that `output` holds a match of each pattern, in order. */
function expectInOrder(output: string, expected: RegExp[]): void {
  let rest = output;
  for (const pattern of expected) {
    const match = pattern.exec(rest);
    if (!match)
      throw new Error(
        `README output lacks ${pattern} after:\n${output.slice(0, output.length - rest.length).slice(-400)}\n---\n${rest}`,
      );
    rest = rest.slice(match.index + match[0].length);
  }
}

describe('README SDK examples', () => {
  it('show the same code as sdk/README.md, whose examples the package test runs as printed', () => {
    const section = README.split('\n## Many workers\n')[1]?.split('\n## ')[0] ?? '';
    const blocks = [...section.matchAll(/```ts\n[\s\S]*?```/g)].map((match) => match[0]);
    const sdkReadme = readFileSync(path.resolve(__dirname, '../../sdk/README.md'), 'utf8');
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(sdkReadme).toContain(block);
  });
});

describe('README examples', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    ensureServerBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-readme-'));
    server = await startServer({ TRIGGERS_SQLITE_PATH: path.join(dir, 'triggers.db'), LOG_LEVEL: 'warn' });
  }, 60_000);

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('work exactly as printed against npm start (only the port differs)', async () => {
    // Prepare
    const script = sectionScript('Try it', 10).replaceAll('http://127.0.0.1:8080', server.baseUrl);

    // Act
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { timeout: 60_000 });

    // Assess: each example's answer, in order
    const expected = [
      /"status":"healthy"/,
      /"status":"pending"/,
      /HTTP\/1.1 201 Created[\s\S]*HTTP\/1.1 201 Created\s+[\s\S]*Idempotent-Replayed: true/i,
      /"code":"IDEMPOTENCY_KEY_REUSED"/,
      /"pagination":\{"limit":1,"next_cursor":"[^"]+","has_more":true\}/,
      /"order_id":"ord_1002"/,
      /"priority":"high"/,
      /"status":"acknowledged","acknowledged_at"/,
      /"code":"CONFLICT".*"current_status":"acknowledged"/,
      /"successful":\[\{"index":0.*"failed":\[\{"index":1,"error":\{"code":"VALIDATION_ERROR"/,
      /"successful":\[\{"event_id":"[0-9a-f-]{36}","acknowledged_at":"[^"]+"\}\],"failed":\[\{"event_id":"[0-9a-f-]{36}","error":\{"code":"CONFLICT"/,
      /"event_type":"cart.abandoned".*"status":"acknowledged"/,
      /\n204\n/,
      /"code":"VALIDATION_ERROR".*"path":"\/body\/event_type".*"path":"\/body\/colour"/,
      /"code":"UNAUTHORIZED"/,
      /"tenant_id":"local","key_id":"dev"/,
    ];
    expectInOrder(stdout, expected);
  });

  it('run the Many workers examples as printed: lease, ack, nack, extend, long-poll, list', async () => {
    // Prepare
    const script = sectionScript('Many workers', 7).replaceAll('http://127.0.0.1:8080', server.baseUrl);

    // Act
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, timeout: 60_000 });

    // Assess
    const lease = (invoice: number) =>
      new RegExp(
        `\\{"invoice":${invoice},"delivery_count":1,"lease":\\{"lease_id":"[^"]+","leased_until":"[^"]+"\\}\\}`,
      );
    expectInOrder(stdout, [
      lease(1),
      lease(2),
      lease(3),
      /\{"events":\[\],"request_id":"[^"]+"\}/,
      /"status":"acknowledged","acknowledged_at"/,
      /"status":"pending","delivery_count":1,"visible_at":"[^"]+"/,
      /\{"event_id":"[0-9a-f-]{36}","leased_until":"[^"]+"/,
      /"code":"CONFLICT".*"reason":"lease_mismatch"/,
      /\{"event_type":"refund.requested","payload":\{"refund":7\},"delivery_count":1\}/,
      /\{"event_type":"refund.requested","status":"pending","delivery_count":1\}\n\{"event_type":"invoice.due","status":"pending","delivery_count":1\}/,
      /\{"event_id":"[0-9a-f-]{36}","status":"pending","request_id"/,
    ]);
  });

  it('run the Webhooks examples as printed: subscribe, a receiver that verifies the signature, the log', async () => {
    // Prepare: the receiver file as printed; only the two ports differ
    const section = README.split('\n## Webhooks\n')[1]?.split('\n## ')[0] ?? '';
    const receiver = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    if (!receiver) throw new Error('the Webhooks section lacks its receiver');
    const port = String(await freePort());
    writeFileSync(path.join(dir, 'receiver.mjs'), receiver.replaceAll('4000', port));
    const script = sectionScript('Webhooks', 3)
      .replaceAll('http://127.0.0.1:8080', server.baseUrl)
      .replaceAll('127.0.0.1:4000', `127.0.0.1:${port}`);

    // Act
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, timeout: 60_000 });

    // Assess
    expectInOrder(stdout, [
      /\{"subscription_id":"sub_[0-9a-f]{32}","event_types":\["order\.\*"\],"status":"active","secret":"whsec_[^"]+"\}/,
      /verified order\.created [0-9a-f-]{36}\n/,
      /\{"attempt":1,"status_code":204,"outcome":"succeeded"\}\n204\n/,
    ]);
    expect(stdout).not.toContain('refused');
  });
});
