import Database from 'better-sqlite3';
import { GroupCommit, MAX_GATHER_TURNS } from '../../server/src/store/sqlite/group-commit';

/** One turn of the event loop: resumes in the check phase of the next iteration. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  let db: Database.Database;
  let commits: number;
  beforeEach(() => {
    db = new Database(':memory:');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    commits = 0;
    // better-sqlite3 has no commit hook: count outermost transactions (each ends in one
    // COMMIT) by wrapping db.transaction before GroupCommit builds its transactions with it.
    const original = db.transaction.bind(db);
    db.transaction = ((fn: (...args: unknown[]) => unknown) => {
      const tx = original(fn);
      const wrapped = ((...args: unknown[]) => {
        const outer = !db.inTransaction;
        const result = tx(...args);
        if (outer) commits += 1;
        return result;
      }) as typeof tx;
      return Object.assign(wrapped, {
        deferred: tx.deferred,
        immediate: tx.immediate,
        exclusive: tx.exclusive,
        default: tx.default,
      });
    }) as typeof db.transaction;
  });
  afterEach(() => db.close());

  it('runs writes submitted in the same tick in one transaction', async () => {
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');

    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) => group.run(() => insert.run(`v${i}`).lastInsertRowid)),
    );

    expect(ids).toHaveLength(50);
    expect(commits).toBe(1);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 50 });
  });

  it('gathers writes that keep arriving over the next turns of the event loop into one transaction', async () => {
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const writes = [];
    for (const v of ['a', 'b', 'c']) {
      writes.push(group.run(() => insert.run(v)));
      await nextTurn();
    }

    await Promise.all(writes);
    expect(commits).toBe(1);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 3 });
  });

  it('commits a lone write once a turn of the event loop has brought nothing new', async () => {
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    let committed = false;
    const write = group
      .run(() => insert.run('alone'))
      .then(() => {
        committed = true;
      });

    await nextTurn();
    expect(committed).toBe(false);
    await nextTurn();
    expect(committed).toBe(true);
    expect(commits).toBe(1);
    await write;
  });

  it('commits within MAX_GATHER_TURNS turns however long writes keep arriving', async () => {
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    let turn = 0;
    const committedAt: number[] = [];
    const writes = [];
    for (; turn < 4 * MAX_GATHER_TURNS; turn += 1) {
      writes.push(group.run(() => insert.run(`v${turn}`)).then(() => committedAt.push(turn)));
      await nextTurn();
    }

    await Promise.all(writes);
    // The first write waits out exactly the gathering turns, never more.
    expect(committedAt[0]).toBe(MAX_GATHER_TURNS);
    expect(commits).toBeGreaterThanOrEqual(3);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 4 * MAX_GATHER_TURNS });
  });

  it('rolls back a failing write alone and rejects only its promise', async () => {
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (id, v) VALUES (?, ?)');

    const results = await Promise.allSettled([
      group.run(() => insert.run(1, 'a')),
      group.run(() => {
        insert.run(2, 'b');
        insert.run(1, 'duplicate');
      }),
      group.run(() => insert.run(3, 'c')),
    ]);

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT id FROM t ORDER BY id').all()).toEqual([{ id: 1 }, { id: 3 }]);
  });

  it('splits a burst larger than the batch size into several transactions', async () => {
    const group = new GroupCommit(db, 10);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    await Promise.all(Array.from({ length: 25 }, (_, i) => group.run(() => insert.run(`v${i}`))));
    expect(commits).toBe(3);
  });

  it('rejects every write of a batch whose commit fails', async () => {
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.close();
    const results = await Promise.allSettled([
      group.run(() => insert.run('a')),
      group.run(() => insert.run('b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    db = new Database(':memory:');
  });
});
