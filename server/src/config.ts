import { z } from 'zod';

/**
 * The only reader of process.env. Every setting is validated at start; a bad value stops the
 * server with a message naming the variable, instead of failing later on first use.
 */
const integer = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be an integer from ${min} to ${max}, got "${value}"`,
        });
        return z.NEVER;
      }
      return parsed;
    });

const EnvSchema = z.object({
  PORT: integer('PORT', 0, 65_535, 8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  AUTH_MODE: z.enum(['local', 'aws']).default('local'),
  TRIGGERS_STORE: z
    .enum(['sqlite', 'dynamodb'], { message: 'TRIGGERS_STORE must be "sqlite" or "dynamodb"' })
    .default('sqlite'),
  TRIGGERS_SQLITE_PATH: z.string().min(1).default('./data/triggers.db'),
  TRIGGERS_DYNAMODB_ENDPOINT: z
    .url({ message: 'TRIGGERS_DYNAMODB_ENDPOINT must be a URL such as http://127.0.0.1:8000' })
    .optional(),
  TRIGGERS_STAGE: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'TRIGGERS_STAGE must be 1 to 32 lowercase letters, digits or dashes')
    .default('dev'),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  TRIGGERS_CURSOR_SECRET: z
    .string()
    .min(32, 'TRIGGERS_CURSOR_SECRET must be at least 32 characters')
    .optional(),
  TRIGGERS_RETENTION_DAYS: integer('TRIGGERS_RETENTION_DAYS', 1, 365, 7),
  TRIGGERS_RATE_LIMIT: integer('TRIGGERS_RATE_LIMIT', 0, 1_000_000, 100),
  TRIGGERS_RATE_BURST: integer('TRIGGERS_RATE_BURST', 1, 1_000_000, 200),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
  /** Unset: the SQLite store generates one and keeps it in the file; see open-stores.ts. */
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
