import { isIP } from 'node:net';
// zod/mini: the same validation as zod's chained API, a tenth of its size in the Lambda bundle.
import * as z from 'zod/mini';

/**
 * The only reader of process.env. Every setting is validated at start; a bad value stops the
 * server with a message naming the variable, instead of failing later on first use.
 */
const integer = (name: string, min: number, max: number, fallback: number) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `${name} must be an integer from ${min} to ${max}, got "${value}"`,
        });
        return z.NEVER;
      }
      return parsed;
    }),
  );

/** An integer setting with no default: unset (or blank) stays undefined. */
const optionalInteger = (name: string, min: number, max: number) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((value, ctx): number | undefined => {
      if (value === undefined || value.trim() === '') return undefined;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `${name} must be an integer from ${min} to ${max}, got "${value}"`,
        });
        return z.NEVER;
      }
      return parsed;
    }),
  );

/** TRIGGERS_CORS_ORIGINS: exact origins (`https://app.example.com`), comma-separated; no `*`. */
const origins = z.pipe(
  z.optional(z.string()),
  z.transform((value, ctx) => {
    const list = (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    for (const origin of list) {
      if (!isOrigin(origin)) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `TRIGGERS_CORS_ORIGINS must list exact origins such as https://app.example.com (scheme, host and port only; no "*"), got "${origin}"`,
        });
        return z.NEVER;
      }
    }
    return list;
  }),
);

function isOrigin(value: string): boolean {
  // WHATWG URLs take `https://*.example.com` as a host name; a wildcard is never an origin here.
  if (value.includes('*')) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

/** DESIGN §11: after the first attempt, retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS: readonly number[] = [
  5, 300, 1_800, 7_200, 18_000, 36_000, 36_000,
];

/** TRIGGERS_WEBHOOK_RETRY_SCHEDULE: seconds before each retry, comma-separated (`5,300,1800`). */
const retrySchedule = z.pipe(
  z.optional(z.string()),
  z.transform((value, ctx): readonly number[] => {
    if (value === undefined || value.trim() === '') return DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS;
    const items = value.split(',').map((item) => item.trim());
    const seconds = items.map(Number);
    const valid =
      items.length <= 20 && items.every((item, i) => /^\d+$/.test(item) && (seconds[i] as number) <= 604_800);
    if (!valid) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `TRIGGERS_WEBHOOK_RETRY_SCHEDULE must be up to 20 comma-separated whole seconds, each at most 604800 (7 days), such as "5,300,1800"; got "${value}"`,
      });
      return z.NEVER;
    }
    return seconds;
  }),
);

const PROXY_PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRIGGERS_TRUST_PROXY, as Express's 'trust proxy' takes it: a number of hops, or the proxies'
 * addresses, subnets (CIDR) or presets, comma-separated. Unset: X-Forwarded-For is ignored.
 */
const trustProxy = z.pipe(
  z.optional(z.string()),
  z.transform((value, ctx): number | string | false => {
    const trimmed = value?.trim() ?? '';
    if (trimmed === '') return false;
    if (/^\d+$/.test(trimmed) && Number(trimmed) <= 10) return Number(trimmed);
    const entries = trimmed.split(',').map((entry) => entry.trim());
    const valid = entries.every((entry) => {
      if (PROXY_PRESETS.has(entry)) return true;
      const [address = '', prefix, extra] = entry.split('/');
      const family = isIP(address);
      if (family === 0 || extra !== undefined) return false;
      if (prefix === undefined) return true;
      return /^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
    });
    if (!valid) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `TRIGGERS_TRUST_PROXY must be a hop count from 0 to 10, or comma-separated proxy addresses, subnets (CIDR) or loopback/linklocal/uniquelocal, got "${value}"`,
      });
      return z.NEVER;
    }
    return entries.join(',');
  }),
);

/** TRIGGERS_MAX_DELIVERIES: leases an event gets before it becomes dead (DESIGN §9). */
export const DEFAULT_MAX_DELIVERIES = 5;
/** TRIGGERS_MAX_WAITING_PER_KEY: long-polling requests one API key may hold at once. */
export const DEFAULT_MAX_WAITING_PER_KEY = 10;
/** TRIGGERS_METRICS_TOP_TENANTS: tenants with a pending-events gauge of their own. */
export const DEFAULT_METRICS_TOP_TENANTS = 10;
/** TRIGGERS_LONG_POLL_INTERVAL_MS: how often a waiting request asks the store again. */
export const DEFAULT_LONG_POLL_INTERVAL_MS = 1_000;
/**
 * DynamoDB bills each query: a waiting request there polls at most once a second (DESIGN §9),
 * which is what docs/dynamodb.md prices.
 */
export const MIN_DYNAMODB_LONG_POLL_INTERVAL_MS = 1_000;
/**
 * TRIGGERS_READINESS_PROBE_INTERVAL_MS: how old the latest write may be before
 * GET /v1/health/ready makes a probe write of its own (health/readiness.ts).
 */
export const DEFAULT_READINESS_PROBE_INTERVAL_MS = 5_000;

const EnvSchema = z.object({
  PORT: integer('PORT', 0, 65_535, 8080),
  HOST: z._default(z.string().check(z.minLength(1)), '127.0.0.1'),
  AUTH_MODE: z._default(z.enum(['local', 'aws']), 'local'),
  TRIGGERS_STORE: z._default(
    z.enum(['sqlite', 'dynamodb'], { error: 'TRIGGERS_STORE must be "sqlite" or "dynamodb"' }),
    'sqlite',
  ),
  TRIGGERS_SQLITE_PATH: z._default(z.string().check(z.minLength(1)), './data/triggers.db'),
  TRIGGERS_DYNAMODB_ENDPOINT: z.optional(
    z.url({ error: 'TRIGGERS_DYNAMODB_ENDPOINT must be a URL such as http://127.0.0.1:8000' }),
  ),
  TRIGGERS_STAGE: z._default(
    z
      .string()
      .check(
        z.regex(/^[a-z0-9-]{1,32}$/, 'TRIGGERS_STAGE must be 1 to 32 lowercase letters, digits or dashes'),
      ),
    'dev',
  ),
  AWS_REGION: z._default(z.string().check(z.minLength(1)), 'us-east-1'),
  TRIGGERS_CURSOR_SECRET: z.optional(
    z.string().check(z.minLength(32, 'TRIGGERS_CURSOR_SECRET must be at least 32 characters')),
  ),
  TRIGGERS_RETENTION_DAYS: integer('TRIGGERS_RETENTION_DAYS', 1, 365, 7),
  TRIGGERS_RATE_LIMIT: integer('TRIGGERS_RATE_LIMIT', 0, 1_000_000, 100),
  TRIGGERS_RATE_BURST: integer('TRIGGERS_RATE_BURST', 1, 1_000_000, 200),
  TRIGGERS_AUTH_FAILURE_LIMIT: integer('TRIGGERS_AUTH_FAILURE_LIMIT', 0, 1_000_000, 10),
  TRIGGERS_AUTH_FAILURE_WINDOW_SECONDS: integer('TRIGGERS_AUTH_FAILURE_WINDOW_SECONDS', 1, 86_400, 60),
  TRIGGERS_TRUST_PROXY: trustProxy,
  TRIGGERS_CORS_ORIGINS: origins,
  TRIGGERS_HEADERS_TIMEOUT_MS: integer('TRIGGERS_HEADERS_TIMEOUT_MS', 1_000, 600_000, 15_000),
  TRIGGERS_REQUEST_TIMEOUT_MS: integer('TRIGGERS_REQUEST_TIMEOUT_MS', 1_000, 600_000, 30_000),
  TRIGGERS_KEEP_ALIVE_TIMEOUT_MS: integer('TRIGGERS_KEEP_ALIVE_TIMEOUT_MS', 100, 600_000, 5_000),
  TRIGGERS_MAX_HEADER_BYTES: integer('TRIGGERS_MAX_HEADER_BYTES', 1_024, 1_048_576, 16_384),
  TRIGGERS_MAX_DELIVERIES: integer('TRIGGERS_MAX_DELIVERIES', 1, 1_000, DEFAULT_MAX_DELIVERIES),
  TRIGGERS_MAX_WAITING_PER_KEY: integer(
    'TRIGGERS_MAX_WAITING_PER_KEY',
    1,
    1_000,
    DEFAULT_MAX_WAITING_PER_KEY,
  ),
  TRIGGERS_LONG_POLL_INTERVAL_MS: integer(
    'TRIGGERS_LONG_POLL_INTERVAL_MS',
    10,
    60_000,
    DEFAULT_LONG_POLL_INTERVAL_MS,
  ),
  TRIGGERS_READINESS_PROBE_INTERVAL_MS: integer(
    'TRIGGERS_READINESS_PROBE_INTERVAL_MS',
    0,
    3_600_000,
    DEFAULT_READINESS_PROBE_INTERVAL_MS,
  ),
  TRIGGERS_WEBHOOK_RETRY_SCHEDULE: retrySchedule,
  TRIGGERS_WEBHOOK_TIMEOUT_MS: integer('TRIGGERS_WEBHOOK_TIMEOUT_MS', 100, 15_000, 15_000),
  TRIGGERS_WEBHOOK_CONCURRENCY: integer('TRIGGERS_WEBHOOK_CONCURRENCY', 1, 10_000, 200),
  TRIGGERS_WEBHOOK_CONCURRENCY_PER_TARGET: integer('TRIGGERS_WEBHOOK_CONCURRENCY_PER_TARGET', 1, 1_000, 20),
  TRIGGERS_METRICS_PORT: optionalInteger('TRIGGERS_METRICS_PORT', 0, 65_535),
  TRIGGERS_METRICS_HOST: z._default(
    z.string().check(z.minLength(1, 'TRIGGERS_METRICS_HOST must not be empty (unset means 127.0.0.1)')),
    '127.0.0.1',
  ),
  TRIGGERS_METRICS_TOP_TENANTS: integer(
    'TRIGGERS_METRICS_TOP_TENANTS',
    1,
    1_000,
    DEFAULT_METRICS_TOP_TENANTS,
  ),
  LOG_LEVEL: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
  LOG_FORMAT: z.optional(z.enum(['pretty', 'json'], { error: 'LOG_FORMAT must be "pretty" or "json"' })),
});

export interface Config {
  port: number;
  host: string;
  authMode: 'local' | 'aws';
  store: 'sqlite' | 'dynamodb';
  sqlitePath: string;
  /** DynamoDB Local or another endpoint; unset, AWS's own for `awsRegion`. */
  dynamodbEndpoint: string | undefined;
  /** Names the DynamoDB tables: `triggers-api-events-{stage}`, `triggers-api-keys-{stage}`. */
  stage: string;
  awsRegion: string;
  /** Unset: the store generates one once and keeps it (SQLite file or DynamoDB); see open-stores.ts. */
  cursorSecret: string | undefined;
  retentionDays: number;
  /** Requests per second per API key; 0 turns rate limiting off. */
  rateLimit: number;
  rateBurst: number;
  /**
   * Failed authentications one client address may make at once, then as many per
   * `authFailureWindowSeconds` (see auth/failed-auth-limit.ts); 0: no limit.
   */
  authFailureLimit: number;
  authFailureWindowSeconds: number;
  /**
   * Express's 'trust proxy' (which X-Forwarded-For hops give the client address): false, a hop
   * count, or proxy addresses/subnets.
   */
  trustProxy: number | string | false;
  /** Exact origins allowed by CORS; empty: no CORS. */
  corsOrigins: readonly string[];
  /** The local HTTP server's limits (local.ts); on Lambda, API Gateway has its own. */
  http: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxHeaderBytes: number;
  };
  /** Leases an event gets; an event leased this many times and not acked becomes dead. */
  maxDeliveries: number;
  /** Long-polling requests (`wait`) one API key may hold at once; beyond, 429. */
  maxWaitingPerKey: number;
  /**
   * How often a waiting request asks the store again, to notice what no in-process signal
   * announces: leases running out, and events written by other instances.
   */
  longPollIntervalMs: number;
  /**
   * GET /v1/health/ready answers from the latest write (a request's or a probe's) while it is
   * younger than this, and makes a probe write when it is older; 0: a probe write every time.
   */
  readinessProbeIntervalMs: number;
  /** Webhook delivery (DESIGN §11); see webhooks/deliverer.ts. */
  webhooks: {
    /** Seconds before each retry; its length + 1 is the number of attempts. */
    retryScheduleSeconds: readonly number[];
    /** An attempt without an answer in this time failed: 15 s (DESIGN §11), or less. */
    timeoutMs: number;
    /** Attempts in flight at once, all subscriptions together. */
    concurrency: number;
    /** Attempts in flight at once to one subscription: a slow target holds back only itself. */
    concurrencyPerTarget: number;
  };
  /**
   * The Prometheus listener of `npm start` (local.ts, prometheus/): unset when
   * TRIGGERS_METRICS_PORT is, then no metrics are kept. On Lambda, metrics are EMF instead.
   */
  metrics:
    | {
        /** 0: any free port (the start-up log line tells which). */
        port: number;
        host: string;
        /** Tenants with a pending-events gauge of their own; the rest are summed. */
        topTenants: number;
      }
    | undefined;
  logLevel: string;
  /**
   * `pretty`: one readable line per entry (pino-pretty), for a person at a terminal. `json`: one
   * JSON object per line, for log collectors. Unset: pretty when stdout is a terminal and
   * AUTH_MODE is local, else JSON (production and anything that reads the output).
   */
  logFormat: 'pretty' | 'json';
  /**
   * Compile the validator's schemas for every operation before serving (http/warm-up.ts). True
   * for `npm start`, which does it before it listens, and for a Lambda container made ahead of
   * traffic (provisioned concurrency). False for a Lambda container made on demand, where the
   * request that caused the cold start waits for its init: it and every first request to an
   * operation then pay only for that operation's schemas, not for all of them.
   */
  compileValidatorsAtStart: boolean;
}

/** What readConfig needs to know of the process besides its environment. */
export interface Terminal {
  stdoutIsTty: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function readConfig(
  env: NodeJS.ProcessEnv = process.env,
  terminal: Terminal = { stdoutIsTty: process.stdout.isTTY === true },
): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = issue.path.join('.');
      return issue.message.includes(variable) ? issue.message : `${variable}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const env_ = parsed.data;
  // Node refuses a headers timeout longer than the request timeout; say so by name.
  if (env_.TRIGGERS_HEADERS_TIMEOUT_MS > env_.TRIGGERS_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration:\n  - TRIGGERS_HEADERS_TIMEOUT_MS (${env_.TRIGGERS_HEADERS_TIMEOUT_MS}) must not be over TRIGGERS_REQUEST_TIMEOUT_MS (${env_.TRIGGERS_REQUEST_TIMEOUT_MS})`,
    );
  }
  // Each poll of a waiting request is a billed query on DynamoDB.
  if (
    env_.TRIGGERS_STORE === 'dynamodb' &&
    env_.TRIGGERS_LONG_POLL_INTERVAL_MS < MIN_DYNAMODB_LONG_POLL_INTERVAL_MS
  ) {
    throw new ConfigError(
      `Invalid configuration:\n  - TRIGGERS_LONG_POLL_INTERVAL_MS must be at least ${MIN_DYNAMODB_LONG_POLL_INTERVAL_MS} on DynamoDB (each poll is a billed query), got ${env_.TRIGGERS_LONG_POLL_INTERVAL_MS}`,
    );
  }
  // One port cannot serve both: the metrics stay off the API's listener.
  if (
    env_.TRIGGERS_METRICS_PORT !== undefined &&
    env_.TRIGGERS_METRICS_PORT !== 0 &&
    env_.TRIGGERS_METRICS_PORT === env_.PORT
  ) {
    throw new ConfigError(
      `Invalid configuration:\n  - TRIGGERS_METRICS_PORT must differ from PORT (${env_.PORT}): metrics are never served on the API's port`,
    );
  }
  return {
    port: env_.PORT,
    host: env_.HOST,
    authMode: env_.AUTH_MODE,
    store: env_.TRIGGERS_STORE,
    sqlitePath: env_.TRIGGERS_SQLITE_PATH,
    dynamodbEndpoint: env_.TRIGGERS_DYNAMODB_ENDPOINT,
    stage: env_.TRIGGERS_STAGE,
    awsRegion: env_.AWS_REGION,
    cursorSecret: env_.TRIGGERS_CURSOR_SECRET,
    retentionDays: env_.TRIGGERS_RETENTION_DAYS,
    rateLimit: env_.TRIGGERS_RATE_LIMIT,
    rateBurst: env_.TRIGGERS_RATE_BURST,
    authFailureLimit: env_.TRIGGERS_AUTH_FAILURE_LIMIT,
    authFailureWindowSeconds: env_.TRIGGERS_AUTH_FAILURE_WINDOW_SECONDS,
    trustProxy: env_.TRIGGERS_TRUST_PROXY,
    corsOrigins: env_.TRIGGERS_CORS_ORIGINS,
    http: {
      headersTimeoutMs: env_.TRIGGERS_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env_.TRIGGERS_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: env_.TRIGGERS_KEEP_ALIVE_TIMEOUT_MS,
      maxHeaderBytes: env_.TRIGGERS_MAX_HEADER_BYTES,
    },
    maxDeliveries: env_.TRIGGERS_MAX_DELIVERIES,
    maxWaitingPerKey: env_.TRIGGERS_MAX_WAITING_PER_KEY,
    longPollIntervalMs: env_.TRIGGERS_LONG_POLL_INTERVAL_MS,
    readinessProbeIntervalMs: env_.TRIGGERS_READINESS_PROBE_INTERVAL_MS,
    webhooks: {
      retryScheduleSeconds: env_.TRIGGERS_WEBHOOK_RETRY_SCHEDULE,
      timeoutMs: env_.TRIGGERS_WEBHOOK_TIMEOUT_MS,
      concurrency: env_.TRIGGERS_WEBHOOK_CONCURRENCY,
      concurrencyPerTarget: env_.TRIGGERS_WEBHOOK_CONCURRENCY_PER_TARGET,
    },
    metrics:
      env_.TRIGGERS_METRICS_PORT === undefined
        ? undefined
        : {
            port: env_.TRIGGERS_METRICS_PORT,
            host: env_.TRIGGERS_METRICS_HOST,
            topTenants: env_.TRIGGERS_METRICS_TOP_TENANTS,
          },
    logLevel: env_.LOG_LEVEL,
    logFormat: env_.LOG_FORMAT ?? (terminal.stdoutIsTty && env_.AUTH_MODE === 'local' ? 'pretty' : 'json'),
    compileValidatorsAtStart: true,
  };
}

/**
 * The Lambda's settings: the same variables, but the store is DynamoDB and there is no
 * development key unless AUTH_MODE=local is set explicitly.
 */
export function readLambdaConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // CloudWatch reads JSON lines: never a terminal.
  const config = readConfig({ AUTH_MODE: 'aws', TRIGGERS_STORE: 'dynamodb', ...env }, { stdoutIsTty: false });
  if (config.store !== 'dynamodb') {
    throw new ConfigError('Invalid configuration:\n  - TRIGGERS_STORE must be "dynamodb" on AWS Lambda');
  }
  // Lambda sets it: on-demand, provisioned-concurrency or snap-start.
  return { ...config, compileValidatorsAtStart: env.AWS_LAMBDA_INITIALIZATION_TYPE !== 'on-demand' };
}
