import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { UnavailableError } from '../../server/src/errors';
import type { EventStore } from '../../server/src/store/event-store';
import { openSqliteStores } from '../../server/src/store/sqlite/open';
import { WriterThread } from '../../server/src/store/sqlite/writer-thread';
import { FakeClock } from '../helpers/fake-clock';
import { describeEventStore } from './conformance';
import { storeFixtures } from './fixtures';
import { describeWebhookStore } from './webhook-conformance';

/**
 * The stores as `npm start` opens them: writes on the writer thread, reads on a read-only
 * connection in this thread. The conformance suites run on them unchanged; then what only
 * this arrangement has.
 */
function openOnWriterThread(onFailure: (error: Error) => void = () => {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggers-writer-'));
  const file = path.join(dir, 'store.db');
  const clock = new FakeClock();
  const stores = openSqliteStores({ sqlitePath: file, cursorSecret: undefined }, clock.read, {
    writerThread: { onFailure },
  });
  return {
    ...stores,
    file,
    clock,
    store: stores.events,
    async cleanup() {
      await stores.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeEventStore('SQLite, writes on a writer thread', async () => openOnWriterThread());
describeWebhookStore('SQLite, writes on a writer thread', async () => openOnWriterThread());

describe('SQLite stores with a writer thread', () => {
  let s: ReturnType<typeof openOnWriterThread>;
  const { newEvent } = storeFixtures(() => s);
  afterEach(() => s?.cleanup());

  it('reads on a read-only connection, so a write left off the writer thread fails instead of contending', async () => {
    s = openOnWriterThread();
    const reads = Object.getPrototypeOf(s.events) as EventStore;
    const written = reads.create({ event: newEvent() });
    await expect(written).rejects.toBeInstanceOf(UnavailableError);
    await expect(written).rejects.toMatchObject({ cause: { code: 'SQLITE_READONLY' } });
  });

  it('answers a write once it is committed, so any other connection already sees it', async () => {
    s = openOnWriterThread();
    const events = Array.from({ length: 20 }, () => newEvent());
    await Promise.all(events.map((event) => s.events.create({ event })));
    const other = new Database(s.file, { readonly: true });
    try {
      expect(other.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 20 });
    } finally {
      other.close();
    }
  });

  it("brings a writer's error back with its name, message and code", async () => {
    s = openOnWriterThread();
    const event = newEvent();
    await s.events.create({ event });
    // The same event id again, without an idempotency key: the primary key refuses it.
    await expect(s.events.create({ event })).rejects.toMatchObject({
      name: 'SqliteError',
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
      message: expect.stringContaining('UNIQUE constraint failed: events.tenant_id, events.event_id'),
    });
  });

  it('finishes the writes in flight when closed, then refuses new ones as unavailable', async () => {
    s = openOnWriterThread();
    const inFlight = Array.from({ length: 10 }, () => s.events.create({ event: newEvent() }));
    const closed = s.close();
    await expect(s.events.create({ event: newEvent() })).rejects.toBeInstanceOf(UnavailableError);
    await expect(Promise.all(inFlight)).resolves.toHaveLength(10);
    await closed;
  });

  it('fails every write as unavailable, and says so once, when the writer thread ends', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'triggers-writer-'));
    try {
      // A real fault: the thread cannot open a database under a path that is a file.
      writeFileSync(path.join(dir, 'not-a-directory'), '');
      const failures: Error[] = [];
      const clock = new FakeClock();
      const writer = new WriterThread({
        file: path.join(dir, 'not-a-directory', 'store.db'),
        clock: clock.read,
        backgroundCheckpoints: false,
        onFailure: (error) => failures.push(error),
      });
      const first = writer.call('events', 'probeWrite', []);
      await expect(first).rejects.toBeInstanceOf(UnavailableError);
      await expect(writer.call('events', 'probeWrite', [])).rejects.toBeInstanceOf(UnavailableError);
      expect(failures).toHaveLength(1);
      await writer.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
