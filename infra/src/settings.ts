import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';

/**
 * What may differ between deployments, read from CDK context: `-c key=value` on the command
 * line (always a string) or `context` in cdk.json and tests (a string or a number).
 */
export interface StackSettings {
  /** Names every resource (`triggers-api-*-{stage}`) and the API Gateway stage. */
  stage: string;
  /** prod keeps its data: tables and logs survive `cdk destroy`, and tables refuse deletion. */
  isProd: boolean;
  memorySize: number;
  timeoutSeconds: number;
  /** Unset: the function shares the account's unreserved concurrency. */
  reservedConcurrency: number | undefined;
  /**
   * Containers kept initialised (a `live` alias with provisioned concurrency, which API
   * Gateway then calls), so requests up to that concurrency never wait for a cold start.
   * Unset: none, and API Gateway calls the function itself.
   */
  provisionedConcurrency: number | undefined;
  /** Passed as TRIGGERS_RETENTION_DAYS; the server validates it (unset: its default). */
  retentionDays: string | undefined;
  logRetention: RetentionDays;
  throttleRate: number;
  throttleBurst: number;
  /** Subscribed to the alarm topic when given (AWS emails a confirmation link first). */
  alarmEmail: string | undefined;
}

const DEFAULT_STAGE = 'dev';

export function readSettings(node: Node): StackSettings {
  const stage = text(node, 'stage') ?? DEFAULT_STAGE;
  const reservedConcurrency = integer(node, 'reservedConcurrency', 1, 100_000);
  const provisionedConcurrency = integer(node, 'provisionedConcurrency', 1, 100_000);
  // Lambda refuses to provision more than the function may ever run.
  if (
    provisionedConcurrency !== undefined &&
    reservedConcurrency !== undefined &&
    provisionedConcurrency > reservedConcurrency
  ) {
    throw new Error(
      `Context provisionedConcurrency (${provisionedConcurrency}) must not exceed reservedConcurrency (${reservedConcurrency})`,
    );
  }
  return {
    stage,
    isProd: stage === 'prod',
    memorySize: integer(node, 'memorySize', 128, 10_240) ?? 1024,
    // API Gateway gives up on an integration after 29 s: a longer run would answer no one.
    // 25 by default: a long poll (`wait` up to 20 s) must end, and answer, before the function
    // is cut off.
    timeoutSeconds: integer(node, 'timeoutSeconds', 1, 29) ?? 25,
    reservedConcurrency,
    provisionedConcurrency,
    retentionDays: text(node, 'retentionDays'),
    logRetention: logRetention(node),
    throttleRate: integer(node, 'throttleRate', 1, 1_000_000) ?? 100,
    throttleBurst: integer(node, 'throttleBurst', 1, 1_000_000) ?? 200,
    alarmEmail: email(node),
  };
}

function raw(node: Node, key: string): string | number | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' || typeof value === 'number') return value;
  throw new Error(`Context ${key} must be a string or a number, got ${JSON.stringify(value)}`);
}

function text(node: Node, key: string): string | undefined {
  const value = raw(node, key);
  return value === undefined ? undefined : String(value);
}

function integer(node: Node, key: string, min: number, max: number): number | undefined {
  const value = raw(node, key);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new Error(`Context ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

function logRetention(node: Node): RetentionDays {
  const days = integer(node, 'logRetentionDays', 1, Number.MAX_SAFE_INTEGER);
  if (days === undefined) return RetentionDays.ONE_MONTH;
  // CloudWatch Logs accepts only these periods (the enum's values are the days).
  const allowed = Object.values(RetentionDays).filter(
    (value): value is RetentionDays => typeof value === 'number',
  );
  const match = allowed.find((value) => value === days);
  if (match === undefined) {
    throw new Error(`Context logRetentionDays must be one of ${allowed.join(', ')}, got ${days}`);
  }
  return match;
}

function email(node: Node): string | undefined {
  const value = text(node, 'alarmEmail');
  if (value !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) {
    throw new Error(`Context alarmEmail must be an email address, got ${JSON.stringify(value)}`);
  }
  return value;
}
