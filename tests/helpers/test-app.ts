import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import pino, { type Logger } from 'pino';
import { type AppConfig, createApp } from '../../server/src/app';
import { generateApiKey } from '../../server/src/auth/api-keys';
import { loadSpec } from '../../server/src/spec';
import type { Scope } from '../../server/src/store/key-store';
import { SqliteEventStore } from '../../server/src/store/sqlite';
import { openSqliteDatabase, type SqliteDatabase } from '../../server/src/store/sqlite-database';
import { SqliteKeyStore } from '../../server/src/store/sqlite-keys';
import { FakeClock } from './fake-clock';

export const DEV_KEY = 'test-api-key-12345';
export const TEST_CURSOR_SECRET = 'test-cursor-secret-0123456789abcdef';

const spec = loadSpec();

export interface TestApp {
  app: Express;
  store: SqliteEventStore;
  keys: SqliteKeyStore;
  db: SqliteDatabase;
  clock: FakeClock;
  file: string;
  /** Stores a new key and returns it in clear. */
  createKey(options: { tenant: string; scopes?: Scope[]; source?: string }): Promise<string>;
  close(): Promise<void>;
}

/**
 * The real app on a real SQLite file in a fresh temporary folder, with a fake clock and, by
 * default, a silent logger.
 */
export function createTestApp(
  overrides: Partial<AppConfig> = {},
  logger: Logger = pino({ level: 'silent' }),
): TestApp {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggers-test-'));
  const file = path.join(dir, 'triggers.db');
  const clock = new FakeClock();
  const db = openSqliteDatabase(file);
  const store = new SqliteEventStore(db, { clock: clock.read, sweepIntervalMs: 0 });
  const keys = new SqliteKeyStore(db);
  const app = createApp({
    store,
    keys,
    clock: clock.read,
    spec,
    logger,
    config: {
      authMode: 'local',
      cursorSecret: TEST_CURSOR_SECRET,
      retentionDays: 7,
      rateLimit: 0,
      rateBurst: 1,
      ...overrides,
    },
  });
  return {
    app,
    store,
    keys,
    db,
    clock,
    file,
    async createKey({ tenant, scopes = ['events:write', 'events:read', 'events:ack'], source = 'test' }) {
      const generated = generateApiKey();
      await keys.create({
        keyId: generated.keyId,
        secretHash: generated.secretHash,
        tenantId: tenant,
        source,
        scopes,
        isActive: true,
        createdAt: clock.now,
        revokedAt: null,
      });
      return generated.apiKey;
    },
    async close() {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
