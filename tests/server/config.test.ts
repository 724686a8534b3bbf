import { ConfigError, readConfig, readLambdaConfig } from '../../server/src/config';

describe('readConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    expect(readConfig({}, { stdoutIsTty: false })).toEqual({
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
      authFailureLimit: 10,
      authFailureWindowSeconds: 60,
      trustProxy: false,
      corsOrigins: [],
      http: {
        headersTimeoutMs: 15_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 5_000,
        maxHeaderBytes: 16_384,
      },
      maxDeliveries: 5,
      maxWaitingPerKey: 10,
      longPollIntervalMs: 1_000,
      readinessProbeIntervalMs: 5_000,
      webhooks: {
        retryScheduleSeconds: [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000],
        timeoutMs: 15_000,
        concurrency: 200,
        concurrencyPerTarget: 20,
      },
      metrics: undefined,
      logLevel: 'info',
      logFormat: 'json',
      compileValidatorsAtStart: true,
    });
  });

  it('logs pretty lines by default only at a terminal, and never by default with AUTH_MODE=aws', () => {
    expect(readConfig({}, { stdoutIsTty: true }).logFormat).toBe('pretty');
    expect(readConfig({}, { stdoutIsTty: false }).logFormat).toBe('json');
    expect(readConfig({ AUTH_MODE: 'aws' }, { stdoutIsTty: true }).logFormat).toBe('json');
    expect(readLambdaConfig({ LOG_LEVEL: 'info' }).logFormat).toBe('json');
  });

  it('compiles every schema at start, except in a Lambda container made on demand', () => {
    expect(readConfig({}).compileValidatorsAtStart).toBe(true);
    expect(readLambdaConfig({ AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' }).compileValidatorsAtStart).toBe(
      false,
    );
    expect(
      readLambdaConfig({ AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' })
        .compileValidatorsAtStart,
    ).toBe(true);
    expect(readLambdaConfig({ AWS_LAMBDA_INITIALIZATION_TYPE: 'snap-start' }).compileValidatorsAtStart).toBe(
      true,
    );
  });

  it('takes LOG_FORMAT over the default, and refuses another value', () => {
    expect(readConfig({ LOG_FORMAT: 'json' }, { stdoutIsTty: true }).logFormat).toBe('json');
    expect(readConfig({ LOG_FORMAT: 'pretty' }, { stdoutIsTty: false }).logFormat).toBe('pretty');
    expect(() => readConfig({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT must be "pretty" or "json"/);
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
      TRIGGERS_AUTH_FAILURE_LIMIT: '0',
      TRIGGERS_AUTH_FAILURE_WINDOW_SECONDS: '300',
      TRIGGERS_TRUST_PROXY: 'loopback, 10.0.0.0/8',
      TRIGGERS_CORS_ORIGINS: 'https://app.example.com, http://localhost:3000',
      TRIGGERS_HEADERS_TIMEOUT_MS: '5000',
      TRIGGERS_REQUEST_TIMEOUT_MS: '10000',
      TRIGGERS_KEEP_ALIVE_TIMEOUT_MS: '61000',
      TRIGGERS_MAX_HEADER_BYTES: '8192',
      TRIGGERS_MAX_DELIVERIES: '1000',
      TRIGGERS_MAX_WAITING_PER_KEY: '50',
      TRIGGERS_LONG_POLL_INTERVAL_MS: '250',
      TRIGGERS_READINESS_PROBE_INTERVAL_MS: '0',
      TRIGGERS_WEBHOOK_RETRY_SCHEDULE: '1, 60,3600',
      TRIGGERS_WEBHOOK_TIMEOUT_MS: '2000',
      TRIGGERS_WEBHOOK_CONCURRENCY: '10',
      TRIGGERS_WEBHOOK_CONCURRENCY_PER_TARGET: '3',
      TRIGGERS_METRICS_PORT: '9464',
      TRIGGERS_METRICS_HOST: '0.0.0.0',
      TRIGGERS_METRICS_TOP_TENANTS: '25',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'pretty',
    });
    expect(config).toMatchObject({
      port: 9000,
      authMode: 'aws',
      retentionDays: 30,
      rateLimit: 0,
      rateBurst: 5,
      authFailureLimit: 0,
      authFailureWindowSeconds: 300,
      trustProxy: 'loopback,10.0.0.0/8',
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      http: {
        headersTimeoutMs: 5_000,
        requestTimeoutMs: 10_000,
        keepAliveTimeoutMs: 61_000,
        maxHeaderBytes: 8_192,
      },
      maxDeliveries: 1000,
      maxWaitingPerKey: 50,
      longPollIntervalMs: 250,
      readinessProbeIntervalMs: 0,
      webhooks: {
        retryScheduleSeconds: [1, 60, 3_600],
        timeoutMs: 2_000,
        concurrency: 10,
        concurrencyPerTarget: 3,
      },
      metrics: { port: 9464, host: '0.0.0.0', topTenants: 25 },
      logLevel: 'debug',
      logFormat: 'pretty',
    });
  });

  it('turns metrics on with TRIGGERS_METRICS_PORT alone, on 127.0.0.1 and the top 10 tenants', () => {
    // Act
    const ephemeral = readConfig({ TRIGGERS_METRICS_PORT: '0' });
    const fixed = readConfig({ TRIGGERS_METRICS_PORT: '9464', TRIGGERS_METRICS_HOST: '::1' });

    // Assess: 0 asks for any free port, as for PORT.
    expect(ephemeral.metrics).toEqual({ port: 0, host: '127.0.0.1', topTenants: 10 });
    expect(fixed.metrics).toEqual({ port: 9464, host: '::1', topTenants: 10 });
    expect(readConfig({ TRIGGERS_METRICS_PORT: ' ' }).metrics).toBeUndefined();
  });

  it('refuses a metrics port that is not a port, or that is the API port', () => {
    for (const bad of ['-1', '65536', '1.5', 'abc', 'true']) {
      expect(() => readConfig({ TRIGGERS_METRICS_PORT: bad })).toThrow(
        new RegExp(
          `TRIGGERS_METRICS_PORT must be an integer from 0 to 65535, got "${bad.replace('.', '\\.')}"`,
        ),
      );
    }
    expect(() => readConfig({ PORT: '9000', TRIGGERS_METRICS_PORT: '9000' })).toThrow(
      /TRIGGERS_METRICS_PORT must differ from PORT \(9000\)/,
    );
    expect(() => readConfig({ TRIGGERS_METRICS_PORT: '8080' })).toThrow(/must differ from PORT/);
    // Both 0: each listener gets its own free port.
    expect(readConfig({ PORT: '0', TRIGGERS_METRICS_PORT: '0' }).metrics?.port).toBe(0);
    expect(() => readConfig({ TRIGGERS_METRICS_PORT: '9464', TRIGGERS_METRICS_TOP_TENANTS: '0' })).toThrow(
      /TRIGGERS_METRICS_TOP_TENANTS must be an integer from 1 to 1000, got "0"/,
    );
    expect(() => readConfig({ TRIGGERS_METRICS_HOST: '' })).toThrow(
      /TRIGGERS_METRICS_HOST must not be empty/,
    );
  });

  it('refuses lease settings out of range', () => {
    expect(() => readConfig({ TRIGGERS_MAX_DELIVERIES: '0' })).toThrow(
      /TRIGGERS_MAX_DELIVERIES must be an integer from 1 to 1000, got "0"/,
    );
    expect(() => readConfig({ TRIGGERS_MAX_DELIVERIES: '1001' })).toThrow(/TRIGGERS_MAX_DELIVERIES/);
    expect(() => readConfig({ TRIGGERS_MAX_WAITING_PER_KEY: '0' })).toThrow(
      /TRIGGERS_MAX_WAITING_PER_KEY must be an integer from 1 to 1000/,
    );
    expect(() => readConfig({ TRIGGERS_LONG_POLL_INTERVAL_MS: '5' })).toThrow(
      /TRIGGERS_LONG_POLL_INTERVAL_MS must be an integer from 10 to 60000/,
    );
  });

  it('refuses a readiness probe interval out of range (issue 15)', () => {
    expect(() => readConfig({ TRIGGERS_READINESS_PROBE_INTERVAL_MS: '-1' })).toThrow(
      /TRIGGERS_READINESS_PROBE_INTERVAL_MS must be an integer from 0 to 3600000, got "-1"/,
    );
    expect(() => readConfig({ TRIGGERS_READINESS_PROBE_INTERVAL_MS: '3600001' })).toThrow(
      /TRIGGERS_READINESS_PROBE_INTERVAL_MS/,
    );
    expect(() => readConfig({ TRIGGERS_READINESS_PROBE_INTERVAL_MS: '2.5' })).toThrow(
      /TRIGGERS_READINESS_PROBE_INTERVAL_MS/,
    );
    expect(readConfig({ TRIGGERS_READINESS_PROBE_INTERVAL_MS: '60000' }).readinessProbeIntervalMs).toBe(
      60_000,
    );
  });

  it('refuses a webhook retry schedule that is not whole seconds, and a timeout over 15 s', () => {
    for (const bad of [
      '5,x',
      '5,,10',
      '-1',
      '1.5',
      '604801',
      Array.from({ length: 21 }, () => '1').join(','),
    ]) {
      expect(() => readConfig({ TRIGGERS_WEBHOOK_RETRY_SCHEDULE: bad })).toThrow(
        /TRIGGERS_WEBHOOK_RETRY_SCHEDULE must be up to 20 comma-separated whole seconds/,
      );
    }
    expect(readConfig({ TRIGGERS_WEBHOOK_RETRY_SCHEDULE: '0' }).webhooks.retryScheduleSeconds).toEqual([0]);
    expect(() => readConfig({ TRIGGERS_WEBHOOK_TIMEOUT_MS: '15001' })).toThrow(
      /TRIGGERS_WEBHOOK_TIMEOUT_MS must be an integer from 100 to 15000/,
    );
  });

  it('refuses a long-poll interval under a second on DynamoDB, where each poll is a billed query', () => {
    expect(() => readConfig({ TRIGGERS_STORE: 'dynamodb', TRIGGERS_LONG_POLL_INTERVAL_MS: '999' })).toThrow(
      /TRIGGERS_LONG_POLL_INTERVAL_MS must be at least 1000 on DynamoDB/,
    );
    expect(readConfig({ TRIGGERS_STORE: 'dynamodb' }).longPollIntervalMs).toBe(1_000);
    expect(readConfig({ TRIGGERS_LONG_POLL_INTERVAL_MS: '50' }).longPollIntervalMs).toBe(50);
  });

  it('reads TRIGGERS_TRUST_PROXY as a hop count, or as proxy addresses and subnets', () => {
    expect(readConfig({ TRIGGERS_TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(readConfig({ TRIGGERS_TRUST_PROXY: '::1, fd00::/8, uniquelocal' }).trustProxy).toBe(
      '::1,fd00::/8,uniquelocal',
    );
    expect(readConfig({ TRIGGERS_TRUST_PROXY: ' ' }).trustProxy).toBe(false);
  });

  it.each([
    ['*', /TRIGGERS_CORS_ORIGINS must list exact origins .* got "\*"/],
    ['https://app.example.com/', /got "https:\/\/app\.example\.com\/"/],
    ['https://app.example.com/path', /TRIGGERS_CORS_ORIGINS/],
    ['ftp://files.example.com', /TRIGGERS_CORS_ORIGINS/],
    ['app.example.com', /TRIGGERS_CORS_ORIGINS/],
    ['https://*.example.com', /TRIGGERS_CORS_ORIGINS/],
  ])('refuses the CORS origin %s: only exact origins', (value, message) => {
    expect(() => readConfig({ TRIGGERS_CORS_ORIGINS: `https://ok.example.com,${value}` })).toThrow(message);
  });

  it.each(['true', '11', 'everyone', '10.0.0.0/33', '10.0.0.1/8/1', 'proxy.example.com'])(
    'refuses TRIGGERS_TRUST_PROXY=%s',
    (value) => {
      expect(() => readConfig({ TRIGGERS_TRUST_PROXY: value })).toThrow(
        /TRIGGERS_TRUST_PROXY must be a hop count/,
      );
    },
  );

  it('refuses HTTP limits out of range, and a headers timeout over the request timeout', () => {
    expect(() => readConfig({ TRIGGERS_MAX_HEADER_BYTES: '100' })).toThrow(
      /TRIGGERS_MAX_HEADER_BYTES must be an integer from 1024 to 1048576/,
    );
    expect(() => readConfig({ TRIGGERS_KEEP_ALIVE_TIMEOUT_MS: 'soon' })).toThrow(
      /TRIGGERS_KEEP_ALIVE_TIMEOUT_MS/,
    );
    expect(() => readConfig({ TRIGGERS_AUTH_FAILURE_WINDOW_SECONDS: '0' })).toThrow(
      /TRIGGERS_AUTH_FAILURE_WINDOW_SECONDS must be an integer from 1 to 86400/,
    );
    expect(() =>
      readConfig({ TRIGGERS_HEADERS_TIMEOUT_MS: '40000', TRIGGERS_REQUEST_TIMEOUT_MS: '30000' }),
    ).toThrow(/TRIGGERS_HEADERS_TIMEOUT_MS \(40000\) must not be over TRIGGERS_REQUEST_TIMEOUT_MS \(30000\)/);
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
