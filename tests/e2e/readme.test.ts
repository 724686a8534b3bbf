import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureCliBuilt } from '../helpers/cli-process';
import {
  type Example,
  runExamples,
  sectionExamples,
  sectionsWithShellExamples,
  staleExamples,
} from '../helpers/readme-examples';
import { ensureServerBuilt, freePort, type ServerProcess, startServer } from '../helpers/server-process';

const README = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

const CLI_BIN = path.resolve(__dirname, '../../cli/bin/triggers.js');

/**
 * The Webhooks section's receiver file as printed, written to `dir`; only its port differs,
 * so that parallel runs do not collide.
 */
async function webhookReceiver(dir: string): Promise<Array<[string, string]>> {
  const section = README.split('\n## Webhooks\n')[1]?.split('\n## ')[0] ?? '';
  const receiver = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!receiver) throw new Error('the Webhooks section lacks its receiver');
  const port = String(await freePort());
  writeFileSync(path.join(dir, 'receiver.mjs'), receiver.replaceAll('4000', port));
  return [
    ['127.0.0.1:4000', `127.0.0.1:${port}`],
    ['/dev/tcp/127.0.0.1/4000', `/dev/tcp/127.0.0.1/${port}`],
  ];
}

interface RunSection {
  title: string;
  /** How many ```sh blocks the section holds at least, so that losing examples fails. */
  atLeast: number;
  /** Anything the section needs in its folder; returns more substitutions for its code. */
  prepare?: (dir: string) => Promise<Array<[string, string]>>;
}

/**
 * The sections whose examples run, in this order, against one `npm start` (a fresh SQLite
 * file), each section in its own `bash -euo pipefail` (tests/helpers/readme-examples.ts says
 * how each block's output is compared with the README). Only the server's URL differs from
 * the printed code. To check a new section's examples, add it here.
 */
const RUN: RunSection[] = [
  { title: 'Try it', atLeast: 10 },
  { title: 'Many workers', atLeast: 7 },
  {
    title: 'Webhooks',
    atLeast: 3,
    prepare: webhookReceiver,
  },
  { title: 'CloudEvents', atLeast: 5 },
  {
    title: 'Command line',
    atLeast: 4,
    // npx would look for `triggers` on the registry outside the repository: run the same bin.
    // The receiver of the Webhooks section, on a port of its own.
    prepare: async (dir) => [['npx triggers', `node ${CLI_BIN}`], ...(await webhookReceiver(dir))],
  },
];

/** The sections with ```sh blocks that this test does not run, and why. */
const NOT_RUN: Record<string, string> = {
  Quickstart: 'installs, starts the server and runs the whole suite: what this test itself does',
  'API keys': 'a placeholder (KEY_ID) stands in the code; tests/cli/keys.test.ts runs the CLI',
  'Running on DynamoDB': 'tests/e2e/readme-dynamodb.test.ts runs it on DynamoDB Local',
  'Deploying to AWS': 'it needs an AWS account',
  Metrics: 'it starts a server of its own; tests/server/metrics-process.test.ts scrapes one',
};

describe('README SDK examples', () => {
  it('show the same code as sdk/README.md, whose examples the package test runs as printed', () => {
    const section = README.split('\n## Many workers\n')[1]?.split('\n## ')[0] ?? '';
    const blocks = [...section.matchAll(/```ts\n[\s\S]*?```/g)].map((match) => match[0]);
    const sdkReadme = readFileSync(path.resolve(__dirname, '../../sdk/README.md'), 'utf8');
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(sdkReadme).toContain(block);
  });
});

describe('README sections', () => {
  it('are each either run by this test or listed with the reason they are not', () => {
    // Act
    const withExamples = sectionsWithShellExamples(README);

    // Assess
    const ours = [...RUN.map((section) => section.title), ...Object.keys(NOT_RUN)];
    expect(withExamples.filter((title) => !ours.includes(title))).toEqual([]);
    expect(ours.filter((title) => !withExamples.includes(title))).toEqual([]);
  });
});

describe('README examples', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    ensureServerBuilt();
    ensureCliBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-readme-'));
    server = await startServer({ TRIGGERS_SQLITE_PATH: path.join(dir, 'triggers.db'), LOG_LEVEL: 'warn' });
  }, 60_000);

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  for (const section of RUN) {
    it(`print, block by block, what the ${section.title} section shows (ids, times and ports masked)`, async () => {
      // Prepare
      const examples: Example[] = sectionExamples(README, section.title);
      expect(examples.length).toBeGreaterThanOrEqual(section.atLeast);
      const substitutions: Array<[string, string]> = [
        ['http://127.0.0.1:8080', server.baseUrl],
        ...((await section.prepare?.(dir)) ?? []),
      ];

      // Act
      const { outputs } = await runExamples(examples, { cwd: dir, substitutions, timeoutMs: 60_000 });

      // Assess
      const stale = staleExamples(examples, outputs);
      if (stale.length > 0)
        throw new Error(`${stale.length} stale README example(s):\n\n${stale.join('\n\n')}`);
    }, 90_000);
  }
});
