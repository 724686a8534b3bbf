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
  LOG_LEVEL: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
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
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = issue.path.join('.');
      return issue.message.includes(variable) ? issue.message : `${variable}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const env_ = parsed.data;
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
    logLevel: env_.LOG_LEVEL,
  };
}

/**
 * The Lambda's settings: the same variables, but the store is DynamoDB and there is no
 * development key unless AUTH_MODE=local is set explicitly.
 */
export function readLambdaConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = readConfig({ AUTH_MODE: 'aws', TRIGGERS_STORE: 'dynamodb', ...env });
  if (config.store !== 'dynamodb') {
    throw new ConfigError('Invalid configuration:\n  - TRIGGERS_STORE must be "dynamodb" on AWS Lambda');
  }
  return config;
}
