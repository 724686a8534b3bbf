/**
 * Key management CLI on the server's store (the SQLite file, or DynamoDB), safe to run while
 * the server is up: on SQLite, WAL and busy_timeout let the two processes share the file.
 *
 *   npm run -s keys -- create --tenant T [--source S] [--scopes events:write,events:read]
 *   npm run -s keys -- list [--tenant T]
 *   npm run -s keys -- revoke KEY_ID
 *
 * Results go to stdout as JSON; messages go to stderr. Exit codes: 0 done, 1 the command
 * failed (no such key, store error), 2 bad arguments or configuration (nothing was done).
 */
import { parseArgs } from 'node:util';
import { issueApiKey } from '../server/src/auth/api-keys';
import { systemClock, toIso } from '../server/src/clock';
import { ConfigError, readConfig } from '../server/src/config';
import {
  ALL_SCOPES,
  type ApiKeyRecord,
  type KeyStore,
  type Scope,
  TENANT_ID_PATTERN,
} from '../server/src/store/key-store';
import { openStores } from '../server/src/store/open-stores';

const USAGE = `Usage: npm run -s keys -- <command> [options]

Commands:
  create --tenant T [--source S] [--scopes LIST]
      Creates a key and prints it once as JSON; only its hash is stored, so save it now.
      With --source, the key may send only events whose source is S (any other is
      refused, 403 FORBIDDEN); without it, events of any source.
      LIST is comma-separated, from: ${ALL_SCOPES.join(', ')} (default: all).
  list [--tenant T]
      Prints the keys (never their secrets) as a JSON array.
  revoke KEY_ID
      Revokes the key; the server refuses it within 60 s.

The store is the server's: the SQLite file TRIGGERS_SQLITE_PATH (default ./data/triggers.db),
or with TRIGGERS_STORE=dynamodb the keys table of TRIGGERS_STAGE (at TRIGGERS_DYNAMODB_ENDPOINT).
Exit codes: 0 done, 1 failed, 2 bad arguments or configuration.
(Use npm's -s so that npm's own banner does not precede the JSON on stdout.)`;

// Same limits as the contract's Me schema (maxLength 128), so /v1/me can always answer.
const MAX_LENGTH = 128;

/** A mistake of the caller: printed without a stack trace, exit 2. */
class UsageError extends Error {}

/** The command ran and failed (e.g. no such key): exit 1. */
class CommandError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!['create', 'list', 'revoke'].includes(command)) {
    throw new UsageError(`unknown command "${command}" (expected create, list or revoke)`);
  }
  const args = parse(command, rest);
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // Everything is validated before the file is opened, so a typo never creates a database.
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  const stores = openStores(config, systemClock);
  try {
    const result = await args.run(stores.keys);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await stores.close();
  }
}

type Parsed = 'help' | { run: (keys: KeyStore) => Promise<unknown> };

function parse(command: string, rest: string[]): Parsed {
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      tenant: { type: 'string' },
      source: { type: 'string' },
      scopes: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return 'help';
  // One option table for all commands keeps parsing simple; reject what a command ignores.
  const allowed: Record<string, string[]> = {
    create: ['tenant', 'source', 'scopes'],
    list: ['tenant'],
    revoke: [],
  };
  for (const name of Object.keys(values)) {
    if (!allowed[command]?.includes(name)) throw new UsageError(`${command} does not take --${name}`);
  }
  const expectedPositionals = command === 'revoke' ? 1 : 0;
  if (positionals.length !== expectedPositionals) {
    throw new UsageError(
      command === 'revoke'
        ? 'revoke takes exactly one KEY_ID'
        : `${command} takes no positional arguments, got "${positionals.join(' ')}"`,
    );
  }

  if (command === 'create') {
    const tenantId = text('--tenant', values.tenant);
    if (!TENANT_ID_PATTERN.test(tenantId)) {
      throw new UsageError('--tenant may hold only letters, digits and . _ : - (up to 128 characters)');
    }
    const source = values.source === undefined ? null : text('--source', values.source);
    const scopes = values.scopes === undefined ? [...ALL_SCOPES] : parseScopes(values.scopes);
    return { run: (keys) => create(keys, tenantId, source, scopes) };
  }
  if (command === 'list') {
    const tenantId = values.tenant === undefined ? undefined : text('--tenant', values.tenant);
    return { run: async (keys) => (await keys.list(tenantId)).map(describe) };
  }
  const keyId = positionals[0] as string;
  return { run: (keys) => revoke(keys, keyId) };
}

/** A required text option, trimmed, 1 to 128 characters (code points, as JSON Schema counts). */
function text(option: string, value: string | undefined): string {
  if (value === undefined) throw new UsageError(`${option} is required`);
  const trimmed = value.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > MAX_LENGTH) {
    throw new UsageError(`${option} must be 1 to ${MAX_LENGTH} characters, got ${length}`);
  }
  return trimmed;
}

function parseScopes(list: string): Scope[] {
  const names = list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) throw new UsageError(`--scopes must name at least one of ${ALL_SCOPES.join(', ')}`);
  for (const name of names) {
    if (!(ALL_SCOPES as readonly string[]).includes(name)) {
      throw new UsageError(`unknown scope "${name}" (valid scopes: ${ALL_SCOPES.join(', ')})`);
    }
  }
  // Deduplicated (the contract's scopes are uniqueItems) and in the canonical order.
  return ALL_SCOPES.filter((scope) => names.includes(scope));
}

async function create(keys: KeyStore, tenantId: string, source: string | null, scopes: Scope[]) {
  const { apiKey, keyId } = await issueApiKey(keys, { tenantId, source, scopes, createdAt: systemClock() });
  return { api_key: apiKey, key_id: keyId, tenant_id: tenantId, source, scopes };
}

async function revoke(keys: KeyStore, keyId: string) {
  if (!(await keys.revoke(keyId, systemClock()))) throw new CommandError(`no key with id "${keyId}"`);
  return { key_id: keyId, revoked: true };
}

/** Everything about a key except its secret hash, which never leaves the store. */
function describe(record: ApiKeyRecord) {
  return {
    key_id: record.keyId,
    tenant_id: record.tenantId,
    source: record.source,
    scopes: record.scopes,
    is_active: record.isActive,
    created_at: toIso(record.createdAt),
    revoked_at: record.revokedAt === null ? null : toIso(record.revokedAt),
  };
}

/** parseArgs reports bad options as TypeErrors with an ERR_PARSE_ARGS_* code. */
function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

// exitCode rather than process.exit(): stdout may be a pipe, and exiting at once could cut
// the JSON short.
main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || isParseArgsError(error)) {
    process.stderr.write(`keys: ${(error as Error).message}\nRun with --help for usage.\n`);
    process.exitCode = 2;
  } else if (error instanceof CommandError) {
    process.stderr.write(`keys: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    // Unexpected (a locked or unreadable file...): the message and its cause, not a stack.
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    process.stderr.write(`keys: ${error instanceof Error ? error.message : String(error)}${cause}\n`);
    process.exitCode = 1;
  }
});
