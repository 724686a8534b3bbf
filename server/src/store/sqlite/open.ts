import type { Clock } from '../../clock';
import type { Config } from '../../config';
import { newCursorSecret } from '../cursor';
import { SqliteKeyStore } from './api-key-store';
import { startBackgroundCheckpoints } from './checkpointer';
import { getOrCreateSetting, openSqliteDatabase, openSqliteReader } from './database';
import { SqliteEventStore } from './event-store';
import { SqliteWebhookStore } from './webhook-store';
import { WriterThread, withWritesOn } from './writer-thread';

export type SqliteStoreConfig = Pick<Config, 'sqlitePath' | 'cursorSecret'>;

export interface SqliteOpenOptions {
  /**
   * For a long-running server on SQLite: WAL checkpoints on a worker thread (see
   * checkpointer.ts), told when one fails (it is retried; the data stays in the WAL).
   * Short-lived users (the keys CLI) leave SQLite to checkpoint on its own.
   */
  backgroundCheckpoints?: { onError: (message: string) => void };
  /**
   * For a long-running server: every write on a thread of its own (see writer-thread.ts), this
   * thread's connection read-only; told if that thread ever ends, after which writes fail.
   */
  writerThread?: { onFailure: (error: Error) => void };
}

/** The stores' methods that write, run on the writer thread when there is one. */
const EVENT_WRITES = [
  'create',
  'ack',
  'lease',
  'nack',
  'extend',
  'redeliver',
  'delete',
  'probeWrite',
] as const;
const WEBHOOK_WRITES = [
  'createSubscription',
  'deleteSubscription',
  'claimDue',
  'claim',
  'finishAttempt',
  'dropDelivery',
] as const;
const KEY_WRITES = ['create', 'revoke'] as const;

/**
 * The SQLite file at `config.sqlitePath`, events and API keys in the same file. Its shape is
 * checked against OpenedStores where ../open-stores.ts returns it (importing that type here
 * would make an import circle).
 */
export function openSqliteStores(config: SqliteStoreConfig, clock: Clock, options: SqliteOpenOptions = {}) {
  if (options.writerThread && config.sqlitePath !== ':memory:') {
    return openWithWriterThread(config, clock, { ...options, writerThread: options.writerThread });
  }
  const db = openSqliteDatabase(config.sqlitePath);
  const checkpoints =
    options.backgroundCheckpoints && config.sqlitePath !== ':memory:'
      ? startBackgroundCheckpoints(db, options.backgroundCheckpoints)
      : undefined;
  const events = new SqliteEventStore(db, { clock });
  const webhooks = new SqliteWebhookStore(db, { clock });
  return {
    events,
    webhooks,
    keys: new SqliteKeyStore(db),
    async cursorSecret() {
      return config.cursorSecret ?? getOrCreateSetting(db, 'cursor_secret', newCursorSecret);
    },
    location: config.sqlitePath,
    async close() {
      await events.close();
      await webhooks.close();
      await checkpoints?.close();
      db.close();
    },
  };
}

function openWithWriterThread(
  config: SqliteStoreConfig,
  clock: Clock,
  options: SqliteOpenOptions & Required<Pick<SqliteOpenOptions, 'writerThread'>>,
) {
  // Migrated, and the cursor secret made, before the file is opened read-only.
  const setup = openSqliteDatabase(config.sqlitePath);
  const cursorSecret = config.cursorSecret ?? getOrCreateSetting(setup, 'cursor_secret', newCursorSecret);
  setup.close();
  const db = openSqliteReader(config.sqlitePath);
  const checkpoints = options.backgroundCheckpoints
    ? startBackgroundCheckpoints(db, options.backgroundCheckpoints)
    : undefined;
  const writer = new WriterThread({
    file: config.sqlitePath,
    clock,
    backgroundCheckpoints: Boolean(checkpoints),
    onFailure: options.writerThread.onFailure,
  });
  // The reads' stores never write: no sweeper here (the writer thread's store sweeps).
  const events = new SqliteEventStore(db, { clock, sweepIntervalMs: 0 });
  const webhooks = new SqliteWebhookStore(db, { clock });
  return {
    events: withWritesOn(writer, 'events', events, EVENT_WRITES),
    webhooks: withWritesOn(writer, 'webhooks', webhooks, WEBHOOK_WRITES),
    keys: withWritesOn(writer, 'keys', new SqliteKeyStore(db), KEY_WRITES),
    async cursorSecret() {
      return cursorSecret;
    },
    location: config.sqlitePath,
    async close() {
      await writer.close();
      await checkpoints?.close();
      db.close();
    },
  };
}
