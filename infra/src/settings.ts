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

/**
 * Every context key this app reads, in one place: any other key is refused, so that a typo
 * (`-c memorysize=512`) stops the synth instead of deploying the default.
 */
export const CONTEXT_KEYS = [
  'stage',
  'memorySize',
  'timeoutSeconds',
  'reservedConcurrency',
  'provisionedConcurrency',
  'retentionDays',
  'logRetentionDays',
  'throttleRate',
  'throttleBurst',
  'alarmEmail',
] as const;

/**
 * Keys that belong to the CDK itself: feature flags (`@aws-cdk/...`), what the CLI passes
 * (`aws:cdk:...`, `aws-cdk:...`, `cdk-...`), and cached lookups of context providers
 * (`availability-zones:account=...`), which cdk.context.json holds.
 */
const CDK_OWN_KEY = /^(@aws-cdk\/|@aws-cdk-|aws:cdk:|aws-cdk:|cdk-)|:account=/;

export function readSettings(node: Node): StackSettings {
  refuseUnknownKeys(node);
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

/** Throws on the first context key that is neither ours nor the CDK's, naming the closest of ours. */
function refuseUnknownKeys(node: Node): void {
  const known: readonly string[] = CONTEXT_KEYS;
  const context = node.getAllContext() as Record<string, unknown>;
  const unknown = Object.keys(context)
    .filter((key) => !known.includes(key) && !CDK_OWN_KEY.test(key))
    .sort();
  const [first] = unknown;
  if (first === undefined) return;
  const closest = closestKey(first);
  const others = unknown.length > 1 ? ` (and ${unknown.slice(1).join(', ')})` : '';
  throw new Error(
    `Unknown context key ${JSON.stringify(first)}${others}: did you mean "${closest}"? ` +
      `Known keys: ${known.join(', ')}`,
  );
}

/** The known key nearest to `key`: fewest edits, letter case ignored. */
function closestKey(key: string): string {
  let best: string = CONTEXT_KEYS[0];
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of CONTEXT_KEYS) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
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
