import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { NPM_ENV } from '../helpers/build';
import { ensureCliBuilt } from '../helpers/cli-process';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'cli');

interface PackResult {
  filename: string;
  files: { path: string; size: number; mode: number }[];
}

describe('the packed CLI', () => {
  let dir: string;

  beforeAll(() => {
    ensureCliBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-cli-pack-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds the bin, the compiled dist and the README, and no sources, maps or tests', async () => {
    // Prepare: a copy of the workspace (sources and all), packed on its own, so that the repo's
    // dist, which other tests run concurrently, is never touched.
    const copy = path.join(dir, 'cli');
    cpSync(CLI, copy, { recursive: true, filter: (source) => !source.includes(`${path.sep}node_modules`) });

    // Act
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
      cwd: copy,
      env: NPM_ENV,
    });

    // Assess
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as PackResult[];
    const files = (packed?.files ?? []).map((file) => file.path).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'README.md',
        'package.json',
        'bin/triggers.js',
        'dist/main.js',
        'dist/commands/tail.js',
        'dist/commands/listen.js',
      ]),
    );
    const junk = files.filter(
      (file) =>
        !/^(README\.md|package\.json|bin\/triggers\.js|dist\/[\w/-]+\.js)$/.test(file) ||
        /\.(map|ts|tsbuildinfo)$|test/.test(file),
    );
    expect(junk).toEqual([]);
    const bin = packed?.files.find((file) => file.path === 'bin/triggers.js');
    expect((bin?.mode ?? 0) & 0o111).not.toBe(0);
    expect(statSync(path.join(dir, packed?.filename as string)).size).toBeLessThan(50_000);
  });
});
