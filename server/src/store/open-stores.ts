import type { Clock } from '../clock';
import type { Config } from '../config';
import type { EventStore } from './event-store';
import type { KeyStore } from './key-store';
import { openSqliteStores, type SqliteOpenOptions } from './sqlite/open';
import type { WebhookStore } from './webhook-store';

/** The configured store, opened: what the server, the Lambda and the keys CLI work on. */
export interface OpenedStores {
  events: EventStore;
  keys: KeyStore;
  /** Subscriptions and webhook deliveries, beside the events. */
  webhooks: WebhookStore;
  /**
   * The HMAC key of inbox cursors: TRIGGERS_CURSOR_SECRET, else one generated once and kept
   * in the store, so cursors survive restarts and work on every instance.
   */
  cursorSecret(): Promise<string>;
  /** Where the data lives, for the startup log. */
  location: string;
  close(): Promise<void>;
}

/**
 * Opens the configured store (SQLite file or DynamoDB tables) for the server or the keys CLI.
 * The Lambda calls openDynamoStores itself: importing this module's values would bundle
 * SQLite's native module (its types are fine: `import type` is erased).
 */
export function openStores(config: Config, clock: Clock, options: SqliteOpenOptions = {}): OpenedStores {
  if (config.store === 'dynamodb') {
    // Required here, not imported at the top: the AWS SDK's 27 modules took about 0.1 s of
    // every start (BENCHMARKS.md), which a server on SQLite never uses.
    const { openDynamoStores } = require('./dynamodb/open') as typeof import('./dynamodb/open');
    return openDynamoStores(config, clock);
  }
  return openSqliteStores(config, clock, options);
}
