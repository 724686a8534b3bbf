import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../../clock';
import { SqliteKeyStore } from './api-key-store';
import { openSqliteDatabase } from './database';
import { SqliteEventStore } from './event-store';
import { SqliteWebhookStore } from './webhook-store';
import { toWire, type WriterData, type WriterReply, type WriterRequest } from './writer-thread';

/**
 * The writer thread's side (writer-thread.ts says why it exists): the stores on a connection of
 * its own, which alone writes to the file, so that their group commits — and the fsync each
 * COMMIT waits for — run here and not on the server's event loop.
 */
const port = parentPort;
if (!port) throw new Error('writer-worker.ts runs only as a worker thread');
const data = workerData as WriterData;

// The time of the call being run, in tests that drive the store with a fake clock; else ours.
let callerNow = 0;
const clock = data.clock === 'caller' ? () => callerNow : systemClock;

const db = openSqliteDatabase(data.file);
// Checkpoints run on their own thread (checkpointer.ts), never inside one of these COMMITs.
if (data.backgroundCheckpoints) db.pragma('wal_autocheckpoint = 0');
const stores: Record<WriterRequest['target'], object> = {
  events: new SqliteEventStore(db, { clock, ...(data.clock === 'caller' && { sweepIntervalMs: 0 }) }),
  webhooks: new SqliteWebhookStore(db, { clock }),
  keys: new SqliteKeyStore(db),
};

// Replies of this turn go back as one message, as the calls came (writer-thread.ts).
let replies: WriterReply[] = [];
const sendReplies = () => {
  if (replies.length === 0) return;
  port.postMessage(replies);
  replies = [];
};
const reply = (message: WriterReply) => {
  replies.push(message);
  if (replies.length === 1) setImmediate(sendReplies);
};

port.on('message', (message: WriterRequest[] | 'close') => {
  if (message === 'close') {
    void close();
    return;
  }
  for (const { id, target, method, args, now } of message) {
    callerNow = now;
    const store = stores[target] as Record<string, (...args: unknown[]) => Promise<unknown>>;
    Promise.resolve()
      .then(
        () => store[method]?.apply(store, args) ?? Promise.reject(new Error(`no write ${target}.${method}`)),
      )
      .then(
        (value) => reply({ id, ok: true, value }),
        (error: unknown) => reply({ id, ok: false, error: toWire(error) }),
      );
  }
});

async function close(): Promise<void> {
  await (stores.events as SqliteEventStore).close();
  await (stores.webhooks as SqliteWebhookStore).close();
  db.close();
  // The last writes' answers before the word that ends the thread.
  sendReplies();
  port?.postMessage('closed');
}
