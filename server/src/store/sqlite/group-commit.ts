import type { SqliteDatabase } from './database';

interface PendingWrite {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** At most this many turns of the event loop a batch waits for more writes (see GroupCommit). */
export const MAX_GATHER_TURNS = 8;

/**
 * Group commit. With `synchronous=FULL` every commit costs an fsync, so one transaction per
 * request would cap durable writes at a few thousand per second. Writes are gathered into one
 * transaction, each inside its own savepoint (so one failing write rolls back alone), and every
 * promise settles only after the shared COMMIT — and so the fsync — has returned. A failed
 * COMMIT rejects them all.
 *
 * A batch is committed once a turn of the event loop has brought no new write (each turn reads
 * whatever requests have arrived, without waiting for any), after MAX_GATHER_TURNS turns, or at
 * maxBatchSize writes. Committing at the end of the first turn instead left half the batches
 * under load with a single write, each paying a whole fsync while the event loop stood still;
 * gathering gave 34 % more ingest req/s for 26 % less CPU a request (BENCHMARKS.md). An idle
 * server's write waits for one empty turn of the loop: microseconds.
 */
export class GroupCommit {
  private queue: PendingWrite[] = [];
  private scheduled = false;
  private readonly runBatch: (batch: PendingWrite[]) => Array<{ ok: boolean; value: unknown }>;

  constructor(
    db: SqliteDatabase,
    private readonly maxBatchSize = 512,
  ) {
    // better-sqlite3 runs a transaction function called inside another as a SAVEPOINT.
    const savepoint = db.transaction((work: () => unknown) => work());
    this.runBatch = db.transaction((batch: PendingWrite[]) =>
      batch.map((write) => {
        try {
          return { ok: true, value: savepoint(write.work) };
        } catch (error) {
          // Some errors (SQLITE_FULL, IOERR, BUSY, NOMEM) may make SQLite roll back the whole
          // transaction, not just the statement (sqlite.org/lang_transaction.html): the writes
          // before this one are gone, and the ones after would each commit on their own,
          // outside the group. The whole batch fails with this error instead (not with the
          // COMMIT's "no transaction is active", which would be an internal error).
          if (!db.inTransaction) throw error;
          return { ok: false, value: error };
        }
      }),
    );
  }

  /** Runs `work` in the next group transaction; resolves with its result once committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves once every write submitted so far has settled. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.scheduled) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** `queued`: writes already waiting (left over from a full batch), not news of this turn. */
  private schedule(queued = 0): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.gather(queued, 0);
  }

  /** Commits once a turn adds no write to the queue, or at either bound (see the class). */
  private gather(queuedBefore: number, turns: number): void {
    setImmediate(() => {
      const growing = this.queue.length > queuedBefore;
      if (growing && turns < MAX_GATHER_TURNS && this.queue.length < this.maxBatchSize) {
        this.gather(this.queue.length, turns + 1);
      } else {
        this.flush();
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.maxBatchSize);
    if (this.queue.length > 0) this.schedule(this.queue.length);
    let results: Array<{ ok: boolean; value: unknown }>;
    try {
      results = this.runBatch(batch);
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    batch.forEach((write, index) => {
      const result = results[index];
      if (result?.ok) write.resolve(result.value);
      else write.reject(result?.value);
    });
  }
}
