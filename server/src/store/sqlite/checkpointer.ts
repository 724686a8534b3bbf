import { Worker } from 'node:worker_threads';
import type { SqliteDatabase } from './database';

/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT
 * that crosses its threshold: ~1,000 pages copied into the database file and fsynced, 20–30 ms
 * (measured) during which the event loop — and so every request in flight — waits. Instead
 * the server's connection stops checkpointing (`wal_autocheckpoint = 0`) and a worker thread,
 * with a connection of its own, runs PASSIVE checkpoints on a timer: they never block the
 * writer or the readers, and the WAL restarts from its beginning at the first commit after a
 * complete one, so it stays bounded. Durability is unchanged: a commit is still acknowledged
 * only once its WAL frames are fsynced (`synchronous = FULL`).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // Busy or failing now; the next tick tries again, and the data is safe in the WAL.
    parentPort.postMessage({ error: String(error && error.message) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.postMessage({ closed: true });
});
`;

export interface Checkpointer {
  /** Runs a last checkpoint and ends the worker. */
  close(): Promise<void>;
}

export function startBackgroundCheckpoints(
  db: SqliteDatabase,
  options: { intervalMs?: number; onError?: (message: string) => void } = {},
): Checkpointer {
  db.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      file: db.name,
      driver: require.resolve('better-sqlite3'),
      intervalMs: options.intervalMs ?? 250,
    },
  });
  // The server must be able to exit without waiting for the timer.
  worker.unref();
  let closed: Promise<void> | undefined;
  const ended = new Promise<void>((resolve) => {
    worker.on('message', (message: { error?: string; closed?: boolean }) => {
      if (message.error) options.onError?.(message.error);
      if (message.closed) resolve();
    });
    worker.once('exit', () => resolve());
  });
  return {
    close() {
      closed ??= (async () => {
        worker.postMessage('close');
        await ended;
        await worker.terminate();
      })();
      return closed;
    },
  };
}
