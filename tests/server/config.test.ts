import { ConfigError, readConfig } from '../../server/src/config';

describe('readConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    expect(readConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      authMode: 'local',
      store: 'sqlite',
      sqlitePath: './data/triggers.db',
      cursorSecret: undefined,
      retentionDays: 7,
      rateLimit: 100,
      rateBurst: 200,
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const config = readConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      AUTH_MODE: 'aws',
      TRIGGERS_STORE: 'sqlite',
      TRIGGERS_SQLITE_PATH: '/tmp/x.db',
      TRIGGERS_CURSOR_SECRET: 's'.repeat(32),
      TRIGGERS_RETENTION_DAYS: '30',
      TRIGGERS_RATE_LIMIT: '0',
      TRIGGERS_RATE_BURST: '5',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 9000,
      authMode: 'aws',
      retentionDays: 30,
      rateLimit: 0,
      logLevel: 'debug',
    });
  });

  it('stops with one message naming every bad variable', () => {
    const env = {
      PORT: 'eighty',
      AUTH_MODE: 'cloud',
      TRIGGERS_RETENTION_DAYS: '0',
      TRIGGERS_CURSOR_SECRET: 'short',
    };
    expect(() => readConfig(env)).toThrow(ConfigError);
    try {
      readConfig(env);
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/PORT must be an integer from 0 to 65535, got "eighty"/);
      expect(message).toMatch(/AUTH_MODE/);
      expect(message).toMatch(/TRIGGERS_RETENTION_DAYS must be an integer from 1 to 365/);
      expect(message).toMatch(/TRIGGERS_CURSOR_SECRET must be at least 32 characters/);
    }
  });

  it('refuses a store this build does not have', () => {
    expect(() => readConfig({ TRIGGERS_STORE: 'dynamodb' })).toThrow(/TRIGGERS_STORE must be "sqlite"/);
  });
});
