import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt } from '../helpers/build';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Opens the stores the way `npm start` does, in a fresh process of the built server, and
 * answers which of the AWS SDK's modules that process loaded. (A jest test cannot ask this
 * of itself: jest keeps modules in a registry of its own, not in require.cache.)
 */
function awsModulesLoadedBy(store: 'sqlite' | 'dynamodb'): string[] {
  ensureBuilt('server', 'server/dist/local.js', ['server/src']);
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'open-stores-')), 'triggers.db');
  const script = `
    const { openStores } = require(${JSON.stringify(path.join(ROOT, 'server/dist/store/open-stores.js'))});
    const stores = openStores(
      { store: ${JSON.stringify(store)}, sqlitePath: ${JSON.stringify(file)}, awsRegion: 'us-east-1', stage: 'test' },
      Date.now,
    );
    stores.close().then(() => {
      const aws = Object.keys(require.cache).filter((id) => /[\\\\/]@(aws-sdk|smithy)[\\\\/]/.test(id));
      process.stdout.write(JSON.stringify(aws));
    });
  `;
  const run = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the probe failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as string[];
}

describe('opening the configured store', () => {
  it('loads none of the AWS SDK for a server on SQLite', () => {
    expect(awsModulesLoadedBy('sqlite')).toEqual([]);
  });

  it('loads the AWS SDK when the store is DynamoDB (so the probe above can see it)', () => {
    expect(awsModulesLoadedBy('dynamodb')).toEqual(
      expect.arrayContaining([expect.stringMatching(/@aws-sdk[\\/]client-dynamodb/)]),
    );
  });
});
