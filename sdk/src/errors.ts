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

/**
 * A field of the request that breaks the contract: `path` (e.g. `/body/source`) and why.
 *
 * @example
 * const [first]: FieldError[] = validationError.details.errors;
 * console.log(first?.path, first?.message); // '/body/source', 'must NOT have fewer than 1 characters'
 */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * `ValidationError.details`: `errors` lists each field that breaks the contract (empty for
 * `INVALID_CURSOR`); `reason` is `target_not_allowed` for a webhook target the API refuses.
 *
 * @example
 * if (error instanceof ValidationError) for (const { path, message } of error.details.errors) console.log(path, message);
 */
export type ValidationErrorDetails = { errors: FieldError[]; reason?: string } & ErrorDetails;

/**
 * `ConflictError.details`: the event's `current_status` (and `acknowledged_at`) when it is not
 * pending, or a `reason`: `lease_mismatch` (another lease is the latest), `lease_too_long`
 * (`max_leased_until`), `too_many_subscriptions` (`limit`).
 *
 * @example
 * if (error instanceof ConflictError && error.details.reason === 'lease_mismatch') console.log('another worker has it');
 */
export type ConflictErrorDetails = {
  reason?: 'lease_mismatch' | 'lease_too_long' | 'too_many_subscriptions' | (string & {});
  current_status?: components['schemas']['EventStatus'];
  acknowledged_at?: string | null;
  max_leased_until?: string;
  limit?: number;
} & ErrorDetails;

type ErrorDetails = Record<string, unknown>;
type FieldType = 'string' | 'number' | 'nullable-string';

/**
 * `details` as the API sent it, minus any of `fields` whose value is not of its type: a
 * proxy's or a newer server's odd answer cannot break the typed fields.
 */
function typed<T extends ErrorDetails>(details: ErrorDetails, fields: Record<string, FieldType>): T {
  const kept: ErrorDetails = { ...details };
  for (const [name, type] of Object.entries(fields)) {
    const value = kept[name];
    const ok =
      value === undefined ||
      (type === 'nullable-string' ? value === null || typeof value === 'string' : typeof value === type);
    if (!ok) delete kept[name];
  }
  return kept as T;
}

type Init = ConstructorParameters<typeof TriggersApiError>[0];

/** 400: the request breaks the contract (`details.errors`), or the cursor is invalid. */
export class ValidationError extends TriggersApiError {
  override name = 'ValidationError';
  declare readonly details: ValidationErrorDetails;

  constructor(init: Init) {
    const details = typed<ErrorDetails>(init.details ?? {}, { reason: 'string' });
    const errors = Array.isArray(details.errors) ? details.errors : [];
    details.errors = errors.filter((item: Partial<FieldError> | null) => {
      return typeof item?.path === 'string' && typeof item.message === 'string';
    });
    super({ ...init, details });
  }
}
/** 401: the API key is missing, unknown or revoked. */
export class AuthenticationError extends TriggersApiError {
  override name = 'AuthenticationError';
}
/** 403: the API key lacks the operation's scope (`details.required_scope`). */
export class PermissionError extends TriggersApiError {
  override name = 'PermissionError';
  declare readonly details: { required_scope?: string } & ErrorDetails;

  constructor(init: Init) {
    super({ ...init, details: typed(init.details ?? {}, { required_scope: 'string' }) });
  }
}
/** 404: no such event or subscription in your tenant, or no such path. */
export class NotFoundError extends TriggersApiError {
  override name = 'NotFoundError';
}
/** 409: the event is not pending (`details.current_status`), or `details.reason` says why. */
export class ConflictError extends TriggersApiError {
  override name = 'ConflictError';
  declare readonly details: ConflictErrorDetails;

  constructor(init: Init) {
    const details = typed<ConflictErrorDetails>(init.details ?? {}, {
      reason: 'string',
      current_status: 'string',
      acknowledged_at: 'nullable-string',
      max_leased_until: 'string',
      limit: 'number',
    });
    super({ ...init, details });
  }
}
/** 413: the body or the payload is over its limit (`details.limit_bytes`, `details.actual_bytes`). */
export class PayloadTooLargeError extends TriggersApiError {
  override name = 'PayloadTooLargeError';
  declare readonly details: { limit_bytes?: number; actual_bytes?: number } & ErrorDetails;

  constructor(init: Init) {
    super({ ...init, details: typed(init.details ?? {}, { limit_bytes: 'number', actual_bytes: 'number' }) });
  }
}
/** 422: the idempotency key was used before with another body (`details.event_id`: the first). */
export class IdempotencyError extends TriggersApiError {
  override name = 'IdempotencyError';
  declare readonly details: { idempotency_key?: string; event_id?: string } & ErrorDetails;

  constructor(init: Init) {
    super({ ...init, details: typed(init.details ?? {}, { idempotency_key: 'string', event_id: 'string' }) });
  }
}
/** 429: over the key's rate limit; `retryAfter` is in seconds. */
export class RateLimitError extends TriggersApiError {
  override name = 'RateLimitError';
  declare readonly details: { retry_after_seconds?: number } & ErrorDetails;
  readonly retryAfter: number | undefined;

  constructor(init: Init & { retryAfter?: number }) {
    super({ ...init, details: typed(init.details ?? {}, { retry_after_seconds: 'number' }) });
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
  413: PayloadTooLargeError,
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
