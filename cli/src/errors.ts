import { TriggersApiError, TriggersConnectionError } from '@triggers-api/sdk';
import type { Output } from './output.js';

/** The exit codes of `triggers` (cli/README.md lists them). */
export const EXIT = {
  ok: 0,
  /** The API answered an error, or could not be reached. */
  api: 1,
  /** The command line was wrong: unknown command or flag, a missing or bad value. */
  usage: 2,
  /** Stopped by Ctrl-C (128 + SIGINT's number 2), as shells report it. */
  sigint: 130,
  /** Stopped by SIGTERM (128 + 15). */
  sigterm: 143,
} as const;

/** A bad command line found after commander parsed it (a `--data` that is not JSON, …). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Writes an error the way every command reports it, `error CODE: message` on stderr, and
 * returns its exit code: 1 for the API's errors and for a server that cannot be reached.
 */
export function reportError(out: Output, error: unknown): number {
  const label = out.paintErr.red('error');
  if (error instanceof TriggersApiError) {
    const requestId = error.requestId ? ` (request ${error.requestId})` : '';
    out.note(`${label} ${error.code}: ${error.message}${requestId}`);
    const fieldErrors = (error.details as { errors?: { path?: string; message?: string }[] }).errors;
    if (Array.isArray(fieldErrors)) {
      for (const field of fieldErrors) out.note(`  ${field.path ?? ''}: ${field.message ?? ''}`);
    }
    return EXIT.api;
  }
  if (error instanceof TriggersConnectionError) {
    out.note(`${label} CONNECTION_FAILED: ${error.message}`);
    return EXIT.api;
  }
  throw error;
}
