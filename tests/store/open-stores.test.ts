import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt } from '../helpers/build';
import { modulesLoadedBy, packagesOf } from '../helpers/loaded-modules';

/** The packages a fresh process loads to open `store` through the built server's openStores. */
function packagesLoadedToOpen(store: 'sqlite' | 'dynamodb'): string[] {
  ensureBuilt('server', 'server/dist/local.js', ['server/src']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'open-stores-'));
  try {
    const config = {
      store,
      sqlitePath: path.join(dir, 'triggers.db'),
      awsRegion: 'us-east-1',
      stage: 'test',
    };
    return packagesOf(
      modulesLoadedBy(`
        const { openStores } = require('./server/dist/store/open-stores.js');
        done = openStores(${JSON.stringify(config)}, Date.now).close();
      `),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('opening the configured store', () => {
  it('loads none of the AWS SDK for a server on SQLite', () => {
    const packages = packagesLoadedToOpen('sqlite');
    expect(packages).toContain('better-sqlite3');
    expect(packages.filter((name) => /^@(aws-sdk|smithy)\//.test(name))).toEqual([]);
  });

  it('loads the AWS SDK when the store is DynamoDB (so the probe above can see it)', () => {
    expect(packagesLoadedToOpen('dynamodb')).toContain('@aws-sdk/client-dynamodb');
  });
});
