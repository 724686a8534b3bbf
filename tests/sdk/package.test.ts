import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { NPM_ENV } from '../helpers/build';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const SDK = path.join(ROOT, 'sdk');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const API_KEY = 'test-api-key-12345';
const CLOUDEVENTS_VERSION = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  }
).devDependencies.cloudevents;

/**
 * A copy of the SDK's sources in a staging tree shaped like the repository, where `npm pack`
 * runs the real prepack build. Packing in sdk/ itself would delete sdk/dist while other test
 * files (the CLI's, through node_modules/@triggers-api/sdk) run from it. The staging root's
 * `generate` does nothing: `npm test` checked that the generated sources are up to date.
 */
function stageSdk(dir: string): string {
  const root = path.join(dir, 'staging');
  const sdk = path.join(root, 'sdk');
  mkdirSync(sdk, { recursive: true });
  for (const file of ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.cjs.json', 'src'])
    cpSync(path.join(SDK, file), path.join(sdk, file), { recursive: true });
  cpSync(path.join(ROOT, 'tsconfig.base.json'), path.join(root, 'tsconfig.base.json'));
  writeFileSync(
    path.join(root, 'package.json'),
    `${JSON.stringify({ private: true, scripts: { generate: 'true' } })}\n`,
  );
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return sdk;
}

interface PackResult {
  filename: string;
  size: number;
  files: { path: string; size: number }[];
}

/** `npm pack --json` prints one array; lifecycle output (the prepack build) goes to stderr. */
function parsePack(stdout: string): PackResult {
  const [result] = JSON.parse(stdout.slice(stdout.indexOf('['))) as PackResult[];
  if (!result) throw new Error(`npm pack printed no result:\n${stdout}`);
  return result;
}

/**
 * A strict consumer: typed fields, and `@ts-expect-error` lines that fail the compile if the
 * package's types were missing or `any`. Compiled as .mts (the `import` types) and as .cts
 * (the `require` types).
 */
const TYPED_CONSUMER = `
import {
  ConflictError,
  createTriggersClient,
  type ErrorCode,
  type Event,
  TriggersApiError,
} from '@triggers-api/sdk';

export async function main(baseUrl: string): Promise<string> {
  const triggers = createTriggersClient({ baseUrl, apiKey: '${API_KEY}', maxRetries: 1, timeoutMs: 5_000 });
  const created = await triggers.events.create(
    { source: 'consumer', event_type: 'order.created', payload: { order_id: 'ord_1' } },
    { idempotencyKey: 'order-ord_1' },
  );
  const eventId: string = created.event_id;
  const events: Event[] = await triggers.inbox.toArray({ max: 10, source: 'consumer' });
  const payload: Record<string, unknown> | undefined = events[0]?.payload;
  for await (const event of triggers.inbox.iterate({ limit: 50 })) {
    const status: 'pending' | 'acknowledged' | 'dead' = event.status;
    if (status === 'pending') await triggers.events.ack(event.event_id);
  }
  const { data, error, response } = await triggers.raw.GET('/v1/me');
  const tenant: string | undefined = data?.tenant_id;
  const failed: string | undefined = error?.error.code;
  try {
    await triggers.events.ack(eventId);
  } catch (caught) {
    if (caught instanceof ConflictError) {
      const code: ErrorCode = caught.code;
      // @ts-expect-error: codes are a closed union
      const unknownCode: 'NOPE' = caught.code;
      const requestId: string | undefined = caught.requestId;
      return [code, unknownCode, requestId, caught.status, caught.details.current_status].join(' ');
    }
    if (caught instanceof TriggersApiError) return caught.message;
  }
  // @ts-expect-error: the contract has no such field
  await triggers.events.create({ source: 'a', event_type: 'b', payload: {}, colour: 'red' });
  // @ts-expect-error: payload is required
  await triggers.events.create({ source: 'a', event_type: 'b' });
  // @ts-expect-error: no such path
  await triggers.raw.GET('/v1/nothing');
  return [payload, tenant, failed, response.status].join(' ');
}
`;

/** A `## title` section of a README, up to the next `## `. */
function section(readme: string, title: string): string {
  const text = readme.split(`\n## ${title}\n`)[1]?.split('\n## ')[0];
  if (text === undefined) throw new Error(`the README has no section ${title}`);
  return text;
}

/**
 * The Quickstart's files, as the README names them ("save this as `quickstart.mjs`:" right
 * before a js block), and its shell blocks, in order.
 */
function quickstart(readme: string): { files: Map<string, string>; commands: string[] } {
  const text = section(readme, 'Quickstart');
  const files = new Map(
    [...text.matchAll(/as `([\w.-]+)`:\n\n```js\n([\s\S]*?)```/g)].map((match) => [
      match[1] as string,
      match[2] as string,
    ]),
  );
  const commands = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] as string);
  return { files, commands };
}

/**
 * The README's examples, as shipped, in order, as one module (later blocks use earlier
 * names): the Quickstart's ES module, then every ts block.
 */
function readmeModule(readme: string): string {
  const start = quickstart(readme).files.get('quickstart.mjs');
  if (start === undefined) throw new Error('the Quickstart has no quickstart.mjs');
  const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
  expect(examples.length).toBeGreaterThanOrEqual(8);
  return `${[start, ...examples].join('\n')}\nexport {};\n`;
}

/** A webhook request signed by hand, as the API signs it (HMAC-SHA256 over id.timestamp.body). */
function signedWebhook(body: string) {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const id = 'evt_1';
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  return {
    secret,
    body,
    headers: { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
  };
}

/** The same run from `import` and from `require`: create, find in the inbox, ack, ack again. */
function smokeScript(format: 'esm' | 'cjs'): string {
  const load =
    format === 'esm'
      ? `import { ConflictError, createTriggersClient, SDK_VERSION, verifyWebhook, WebhookVerificationError } from '@triggers-api/sdk';\nconst resolved = import.meta.resolve('@triggers-api/sdk');`
      : `const { ConflictError, createTriggersClient, SDK_VERSION, verifyWebhook, WebhookVerificationError } = require('@triggers-api/sdk');\nconst resolved = require.resolve('@triggers-api/sdk');`;
  return `${load}

async function main() {
  const [baseUrl, tag, webhookJson] = process.argv.slice(2);
  // verifyWebhook runs its dependency (standardwebhooks): a good request, then a tampered one.
  const webhook = JSON.parse(webhookJson);
  const verified = verifyWebhook(webhook.secret, webhook.headers, webhook.body);
  let tampered;
  try {
    verifyWebhook(webhook.secret, webhook.headers, webhook.body.replace('1', '2'));
  } catch (error) {
    tampered = error;
  }
  const triggers = createTriggersClient({ baseUrl, apiKey: '${API_KEY}' });
  const created = await triggers.events.create({ source: 'package-test', event_type: tag, payload: { tag, n: 1 } });
  let found;
  for await (const event of triggers.inbox.iterate({ event_type: tag, limit: 10 })) {
    if (event.event_id === created.event_id) found = event;
  }
  const ack = await triggers.events.ack(created.event_id);
  let conflict;
  try {
    await triggers.events.ack(created.event_id);
  } catch (error) {
    conflict = error;
  }
  console.log(JSON.stringify({
    resolved: String(resolved),
    sdkVersion: SDK_VERSION,
    payload: found && found.payload,
    ackStatus: ack.status,
    conflictIsConflictError: conflict instanceof ConflictError,
    conflictCode: conflict && conflict.code,
    conflictName: conflict && conflict.name,
    verifiedTag: verified.tag,
    tamperedIsVerificationError: tampered instanceof WebhookVerificationError,
  }));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;
}

describe('The packed @triggers-api/sdk', () => {
  let dir: string;
  let consumer: string;
  let server: ServerProcess;
  let packed: PackResult;

  beforeAll(async () => {
    ensureServerBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-sdk-package-'));
    consumer = path.join(dir, 'consumer');
    mkdirSync(consumer);
    writeFileSync(
      path.join(consumer, 'package.json'),
      `${JSON.stringify({ name: 'sdk-consumer', version: '1.0.0', private: true }, null, 2)}\n`,
    );
    const packAndInstall = async () => {
      // npm pack runs prepack, which builds dist/ from scratch (in the staging copy).
      const pack = await run('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: stageSdk(dir),
        env: { ...NPM_ENV, PATH: `${path.join(ROOT, 'node_modules/.bin')}${path.delimiter}${NPM_ENV.PATH}` },
        timeout: 60_000,
      });
      packed = parsePack(pack.stdout);
      await run(
        'npm',
        // cloudevents: the README's CloudEvents example encodes with it (pinned as in the repo).
        [
          'install',
          path.join(dir, packed.filename),
          `cloudevents@${CLOUDEVENTS_VERSION}`,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
        ],
        { cwd: consumer, env: NPM_ENV, timeout: 60_000 },
      );
    };
    const [started] = await Promise.all([
      startServer({ TRIGGERS_SQLITE_PATH: path.join(dir, 'triggers.db'), LOG_LEVEL: 'warn' }),
      packAndInstall(),
    ]);
    server = started;
  }, 90_000);

  afterAll(async () => {
    if (server) await killServer(server);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // The contract's generated types are two thirds of the package (once for import, once for
  // require) and grow with the contract: the bound is there to notice a runaway, not to forbid
  // a documented operation.
  it('holds only dist/, README.md and package.json, in under 80 KB', () => {
    // Prepare
    const paths = packed.files.map((file) => file.path);

    // Act
    const unexpected = paths.filter(
      (file) =>
        !/^dist\/(esm|cjs)\/.+\.(js|d\.ts)$/.test(file) &&
        !['dist/cjs/package.json', 'README.md', 'package.json'].includes(file),
    );

    // Assess
    expect(packed.size).toBeLessThan(80 * 1024);
    expect(unexpected).toEqual([]);
    expect(paths.filter((file) => /(^|\/)src\/|\.test\.|\.map$|tsbuildinfo/.test(file))).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'README.md',
        'package.json',
        'dist/esm/index.js',
        'dist/esm/index.d.ts',
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
        'dist/cjs/package.json',
      ]),
    );
  });

  it('type-checks a strict NodeNext consumer from both import and require, and the README examples', async () => {
    // Prepare
    const src = path.join(consumer, 'typed');
    mkdirSync(src);
    writeFileSync(path.join(src, 'consumer.mts'), TYPED_CONSUMER);
    writeFileSync(path.join(src, 'consumer.cts'), TYPED_CONSUMER);
    const readme = readFileSync(path.join(consumer, 'node_modules/@triggers-api/sdk/README.md'), 'utf8');
    writeFileSync(path.join(src, 'readme.mts'), readmeModule(readme));
    const compilerOptions = {
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      lib: ['ES2022', 'DOM'],
      types: [],
      skipLibCheck: false,
      noEmit: true,
    };
    // The SDK's own types need nothing of Node's; the README's CloudEvents example does (the
    // cloudevents package's types refer to Node's), as it would in a user's Node project.
    writeFileSync(
      path.join(src, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, include: ['consumer.mts', 'consumer.cts'] }),
    );
    writeFileSync(
      path.join(src, 'tsconfig.readme.json'),
      JSON.stringify({
        compilerOptions: {
          ...compilerOptions,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules/@types')],
        },
        include: ['readme.mts'],
      }),
    );

    // Act
    const compile = (project: string) =>
      run(process.execPath, [TSC, '-p', path.join(src, project), '--listFiles'], {
        cwd: consumer,
        timeout: 60_000,
      }).catch((error: { stdout?: string; message: string }) => {
        throw new Error(`${project} does not compile:\n${error.stdout ?? error.message}`);
      });
    const [compiled] = await Promise.all([compile('tsconfig.json'), compile('tsconfig.readme.json')]);

    // Assess: each file got the types of its own format, from the installed package
    const sdkTypes = compiled.stdout
      .split('\n')
      .filter((file) => file.includes('node_modules/@triggers-api/sdk/dist/'));
    expect(sdkTypes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/node_modules\/@triggers-api\/sdk\/dist\/esm\/index\.d\.ts$/),
        expect.stringMatching(/node_modules\/@triggers-api\/sdk\/dist\/cjs\/index\.d\.ts$/),
      ]),
    );
  }, 90_000);

  it('runs the README examples as printed against the live server, consume stopping itself', async () => {
    // Prepare: the same module as type-checked above, run by Node (which strips the types),
    // with only the port changed
    const readme = readFileSync(path.join(consumer, 'node_modules/@triggers-api/sdk/README.md'), 'utf8');
    writeFileSync(
      path.join(consumer, 'readme-run.mts'),
      readmeModule(readme).replaceAll('http://127.0.0.1:8080', server.baseUrl),
    );

    // Act
    const { stdout, stderr } = await run(process.execPath, ['readme-run.mts'], {
      cwd: consumer,
      timeout: 60_000,
    });

    // Assess: the examples ran to their end, the lease example and the consumer included
    expect(stdout).toMatch(/handling [0-9a-f-]{36}/);
    expect(stdout).toMatch(/stopped: every event it held is acked or given back\n/);
    // The Webhooks example subscribed, and unsubscribed again before later examples created events
    expect(stdout).toMatch(/^sub_[0-9a-f]{32} active$/m);
    // The CloudEvents example was stored with its attributes
    expect(stdout).toMatch(/^order\.created \{\s+id: 'evt-1001',\s+specversion: '1\.0',/m);
    // Nothing failed on the way: no nack of the lease example, no error of the consumer
    expect(stderr).not.toMatch(/failed; trying again|Triggers consume/);
  }, 60_000);

  it('runs the README quickstart as printed in a fresh `npm init -y` folder, as ES module and with require', async () => {
    // Prepare: the README's shell lines, with the tarball where it says /path/to/triggers-api
    // and the npm cache instead of the network; its files, with the server's port
    const readme = readFileSync(path.join(SDK, 'README.md'), 'utf8');
    const { files, commands } = quickstart(readme);
    const [setup, ...runs] = commands.map((command) =>
      command
        .replaceAll(`/path/to/triggers-api/sdk/${packed.filename}`, path.join(dir, packed.filename))
        .replace(/^(npm install \S+)$/m, '$1 --prefer-offline --no-audit --no-fund'),
    );
    const fresh = mkdtempSync(path.join(dir, 'fresh-'));
    const bash = (script: string, cwd: string) =>
      run('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: NPM_ENV, timeout: 60_000 });
    await bash(setup ?? '', fresh);
    const project = path.join(fresh, /^mkdir (\S+)/m.exec(setup ?? '')?.[1] ?? 'missing');
    for (const [name, code] of files) {
      writeFileSync(path.join(project, name), code.replaceAll('http://127.0.0.1:8080', server.baseUrl));
    }

    // Act
    const outputs: string[] = [];
    for (const command of runs) outputs.push((await bash(command, project)).stdout);

    // Assess: a CommonJS project, where each file printed its new event
    const manifest = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as {
      type?: string;
    };
    expect(manifest.type ?? 'commonjs').toBe('commonjs');
    expect([...files.keys()]).toEqual(['quickstart.mjs', 'quickstart.cjs']);
    expect(runs).toEqual(['node quickstart.mjs\n', 'node quickstart.cjs\n']);
    expect(outputs).toEqual([
      expect.stringMatching(/^[0-9a-f-]{36} pending\n$/),
      expect.stringMatching(/^[0-9a-f-]{36} pending\n$/),
    ]);
  }, 90_000);

  it.each([
    ['esm', 'smoke.mjs', /node_modules\/@triggers-api\/sdk\/dist\/esm\/index\.js$/],
    ['cjs', 'smoke.cjs', /node_modules\/@triggers-api\/sdk\/dist\/cjs\/index\.js$/],
  ] as const)(
    'creates, iterates and acks against the live server from %s, with typed errors, and verifies a webhook',
    async (format, file, entry) => {
      // Prepare
      writeFileSync(path.join(consumer, file), smokeScript(format));
      const tag = `package.${format}`;
      const webhook = signedWebhook(JSON.stringify({ event_id: 'evt_1', tag }));

      // Act
      const { stdout } = await run(process.execPath, [file, server.baseUrl, tag, JSON.stringify(webhook)], {
        cwd: consumer,
        timeout: 30_000,
      });

      // Assess
      const result = JSON.parse(stdout.trim());
      const installed = JSON.parse(
        readFileSync(path.join(consumer, 'node_modules/@triggers-api/sdk/package.json'), 'utf8'),
      ) as { version: string };
      expect(result).toEqual({
        resolved: expect.stringMatching(entry),
        sdkVersion: installed.version,
        payload: { tag, n: 1 },
        ackStatus: 'acknowledged',
        conflictIsConflictError: true,
        conflictCode: 'CONFLICT',
        conflictName: 'ConflictError',
        verifiedTag: tag,
        tamperedIsVerificationError: true,
      });
    },
  );

  it('bundles createTriggersClient and consume for the browser without Node built-ins', async () => {
    // Prepare
    writeFileSync(
      path.join(consumer, 'browser-entry.mjs'),
      "export { consume, createTriggersClient } from '@triggers-api/sdk';\n",
    );

    // Act
    const result = await build({
      absWorkingDir: consumer,
      entryPoints: ['browser-entry.mjs'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });

    // Assess
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((input) => input.includes('node:'))).toEqual([]);
    expect(inputs.filter((input) => !/^(browser-entry\.mjs|node_modules\/.+\.m?js)$/.test(input))).toEqual(
      [],
    );
    expect(inputs).toEqual(
      expect.arrayContaining([
        'node_modules/@triggers-api/sdk/dist/esm/client.js',
        'node_modules/openapi-fetch/dist/index.mjs',
      ]),
    );
    const externals = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
    expect(externals).toEqual([]);
    const bundle = result.outputFiles?.[0]?.contents ?? new Uint8Array();
    expect(bundle.byteLength).toBeGreaterThan(0);
    console.log(
      `@triggers-api/sdk: tarball ${packed.size} B; browser bundle of createTriggersClient and consume ` +
        `${bundle.byteLength} B min, ${gzipSync(bundle).byteLength} B min+gzip (goal ≤ 10240 B gzip)`,
    );
  });
});
