import type { EventStore } from './event-store';
import type { KeyStore } from './key-store';

/** The configured store, opened: what the server, the Lambda and the keys CLI work on. */
export interface OpenedStores {
  events: EventStore;
  keys: KeyStore;
  /**
   * The HMAC key of inbox cursors: TRIGGERS_CURSOR_SECRET, else one generated once and kept
   * in the store, so cursors survive restarts and work on every instance.
   */
  cursorSecret(): Promise<string>;
  /** Where the data lives, for the startup log. */
  location: string;
  close(): Promise<void>;
}
