import { ConfigError, readConfig } from '../../server/src/config';

describe('readConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    expect(readConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      authMode: 'local',
      store: 'sqlite',
      sqlitePath: './data/triggers.db',
      dynamodbEndpoint: undefined,
      stage: 'dev',
      awsRegion: 'us-east-1',
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

  it('reads the DynamoDB settings', () => {
    expect(
      readConfig({
        TRIGGERS_STORE: 'dynamodb',
        TRIGGERS_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
        TRIGGERS_STAGE: 'prod',
        AWS_REGION: 'eu-west-1',
      }),
    ).toMatchObject({
      store: 'dynamodb',
      dynamodbEndpoint: 'http://127.0.0.1:8000',
      stage: 'prod',
      awsRegion: 'eu-west-1',
    });
  });

  it('refuses an unknown store, a bad endpoint and a bad stage', () => {
    expect(() => readConfig({ TRIGGERS_STORE: 'postgres' })).toThrow(
      /TRIGGERS_STORE must be "sqlite" or "dynamodb"/,
    );
    expect(() => readConfig({ TRIGGERS_DYNAMODB_ENDPOINT: 'localhost' })).toThrow(
      /TRIGGERS_DYNAMODB_ENDPOINT must be a URL/,
    );
    expect(() => readConfig({ TRIGGERS_STAGE: 'Prod_1' })).toThrow(
      /TRIGGERS_STAGE must be 1 to 32 lowercase/,
    );
  });
});
