import { UnavailableError } from '../../errors';

// Faults of the file or the lock, which a retry may cure: answered 503 with Retry-After.
// Anything else (a constraint or SQL bug) stays an internal error.
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL|NOMEM)/;

/** Runs `fn`, turning SQLite's transient faults into the domain's UnavailableError. */
export function mapSqliteFault(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TRANSIENT.test(code)) return new UnavailableError({ cause: error });
  // Checked by name and message: the addon's TypeError may come from another realm (jest).
  if (
    (error as Error | null)?.name === 'TypeError' &&
    /connection is not open/.test((error as Error).message)
  ) {
    return new UnavailableError({ cause: error });
  }
  return error;
}

export async function withSqliteFaults<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw mapSqliteFault(error);
  }
}
