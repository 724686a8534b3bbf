import type { components } from './generated/triggers.js';

/** A stable error code of the contract, or `UNKNOWN` for an answer that is not the envelope. */
export type ErrorCode = components['schemas']['ErrorCode'] | 'UNKNOWN';

/**
 * An error answer of the Triggers API. `code` is stable and machine-readable; `requestId`
 * finds the request in the server's logs.
 *
 * @example
 * try {
 *   await triggers.events.ack(id);
 * } catch (error) {
 *   if (error instanceof ConflictError) console.log('already', error.details.current_status);
 *   else throw error;
 * }
 */
export class TriggersApiError extends Error {
  override name = 'TriggersApiError';
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly requestId: string | undefined;

  constructor(init: {
    status: number;
    code: ErrorCode;
    message: string;
    details?: Record<string, unknown>;
    requestId?: string;
  }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.requestId = init.requestId;
  }
}

/** 400: the request breaks the contract (`details.errors`), or the cursor is invalid. */
export class ValidationError extends TriggersApiError {
  override name = 'ValidationError';
}
/** 401: the API key is missing, unknown or revoked. */
export class AuthenticationError extends TriggersApiError {
  override name = 'AuthenticationError';
}
/** 403: the API key lacks the operation's scope (`details.required_scope`). */
export class PermissionError extends TriggersApiError {
  override name = 'PermissionError';
}
/** 404: no such event or subscription in your tenant, or no such path. */
export class NotFoundError extends TriggersApiError {
  override name = 'NotFoundError';
}
/** 409: the event is not pending (`details.current_status`, `details.acknowledged_at`). */
export class ConflictError extends TriggersApiError {
  override name = 'ConflictError';
}
/** 422: the idempotency key was used before with another body. */
export class IdempotencyError extends TriggersApiError {
  override name = 'IdempotencyError';
}
/** 429: over the key's rate limit; `retryAfter` is in seconds. */
export class RateLimitError extends TriggersApiError {
  override name = 'RateLimitError';
  readonly retryAfter: number | undefined;

  constructor(init: ConstructorParameters<typeof TriggersApiError>[0] & { retryAfter?: number }) {
    super(init);
    this.retryAfter = init.retryAfter;
  }
}
/** 5xx: the server failed or its store is unavailable (retried already). */
export class ServerError extends TriggersApiError {
  override name = 'ServerError';
}

/** The request got no answer: a network failure, or the per-attempt timeout, after retries. */
export class TriggersConnectionError extends Error {
  override name = 'TriggersConnectionError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const BY_STATUS: Record<number, typeof TriggersApiError> = {
  400: ValidationError,
  401: AuthenticationError,
  403: PermissionError,
  404: NotFoundError,
  409: ConflictError,
  422: IdempotencyError,
};

interface Envelope {
  error?: { code?: string; message?: string; details?: Record<string, unknown>; request_id?: string };
}

/** The error class for an answer: by status, as stripe-node does. */
export function errorFromResponse(response: Response, body: unknown): TriggersApiError {
  const envelope = (body && typeof body === 'object' ? body : {}) as Envelope;
  const init = {
    status: response.status,
    code: (envelope.error?.code ?? 'UNKNOWN') as ErrorCode,
    message: envelope.error?.message ?? `The Triggers API answered ${response.status}.`,
    details: envelope.error?.details ?? {},
    requestId: envelope.error?.request_id ?? response.headers.get('x-request-id') ?? undefined,
  };
  if (response.status === 429) {
    return new RateLimitError({ ...init, retryAfter: parseRetryAfter(response.headers.get('retry-after')) });
  }
  if (response.status >= 500) return new ServerError(init);
  const ErrorClass = BY_STATUS[response.status] ?? TriggersApiError;
  return new ErrorClass(init);
}

/** Seconds to wait from a `Retry-After` header (seconds or an HTTP date). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}
