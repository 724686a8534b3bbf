import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBackgroundCheckpoints } from '../../server/src/store/sqlite/checkpointer';
import { openSqliteDatabase, type SqliteDatabase } from '../../server/src/store/sqlite/database';

/** 24 MB of rows, 500 per transaction, with the connection's own checkpoints off. */
function writeMany(db: SqliteDatabase): number {
  db.exec('CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT)');
  const insert = db.prepare('INSERT INTO filler (body) VALUES (?)');
  const batch = db.transaction((rows: number) => {
    for (let i = 0; i < rows; i += 1) insert.run('x'.repeat(1024));
  });
  const rows = 24_000;
  for (let done = 0; done < rows; done += 500) batch(500);
  return rows * 1024;
}

describe('background WAL checkpoints', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-checkpoints-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the WAL bounded while the connection never checkpoints itself', async () => {
    const file = path.join(dir, 'checkpointed.db');
    const db = openSqliteDatabase(file);
    const checkpoints = startBackgroundCheckpoints(db, { intervalMs: 10 });
    try {
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      let written = 0;
      // Spread over several turns of the event loop, as a server's commits are. Between
      // rounds the worker gets up to 2 s of real time to catch up (on a loaded machine a
      // fixed pause was not always enough); without it the WAL never shrinks (the control).
      for (let round = 0; round < 6; round += 1) {
        written += writeMany(db);
        const caughtUpBy = Date.now() + 2_000;
        do await new Promise((resolve) => setTimeout(resolve, 60));
        while (statSync(`${file}-wal`).size >= written / 2 && Date.now() < caughtUpBy);
      }
      expect(statSync(`${file}-wal`).size).toBeLessThan(written / 2);
      expect(db.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: 144_000 });
    } finally {
      await checkpoints.close();
      db.close();
    }
  }, 60_000);

  it('lets the WAL grow without the worker (the control: the test above can fail)', () => {
    const file = path.join(dir, 'unchecked.db');
    const db = openSqliteDatabase(file);
    try {
      db.pragma('wal_autocheckpoint = 0');
      const written = writeMany(db);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(written);
    } finally {
      db.close();
    }
  }, 60_000);

  it('ends its worker on close, so that a process using it can exit', async () => {
    const db = openSqliteDatabase(path.join(dir, 'closing.db'));
    const checkpoints = startBackgroundCheckpoints(db, { intervalMs: 10 });
    await checkpoints.close();
    await checkpoints.close();
    db.close();
    expect(db.open).toBe(false);
  });
});
