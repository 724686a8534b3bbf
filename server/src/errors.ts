import type { components } from './generated/triggers';

/** A stable, machine-readable error code of the contract (`components.schemas.ErrorCode`). */
export type ErrorCode = components['schemas']['ErrorCode'];
export type ErrorDetails = Record<string, unknown>;

/**
 * An error the client is meant to see. Handlers and services throw these; the one error
 * middleware (`http/error-handler.ts`) turns them into the envelope. Anything that is not an
 * AppError becomes a 500 whose cause goes to the log only.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    details: ErrorDetails = {},
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = options.headers ?? {};
  }
}

export interface FieldError {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, errors: FieldError[]) {
    super(400, 'VALIDATION_ERROR', message, { errors });
  }
}

export class InvalidCursorError extends AppError {
  constructor(reason: string) {
    super(
      400,
      'INVALID_CURSOR',
      `Invalid cursor: ${reason}. Pass pagination.next_cursor exactly as returned, with the same filters (and order), or omit cursor to start from the first page.`,
    );
  }
}

export class UnauthorizedError extends AppError {
  constructor(message: string) {
    super(401, 'UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(requiredScope: string) {
    super(403, 'FORBIDDEN', `This API key lacks the scope ${requiredScope}.`, {
      required_scope: requiredScope,
    });
  }
}

/** A key created with a source sent an event of another source (issue 15). */
export class SourceNotAllowedError extends AppError {
  constructor(allowedSource: string, source: string) {
    super(
      403,
      'FORBIDDEN',
      `This API key may send only events of source ${JSON.stringify(allowedSource)}, not ${JSON.stringify(source)}.`,
      { allowed_source: allowedSource, source },
    );
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'Event not found.', details: ErrorDetails = {}) {
    super(404, 'NOT_FOUND', message, details);
  }
}

export class MethodNotAllowedError extends AppError {
  constructor(method: string, allow: string[]) {
    super(
      405,
      'METHOD_NOT_ALLOWED',
      `${method} is not allowed on this path.`,
      { allow },
      {
        headers: { Allow: allow.join(', ') },
      },
    );
  }
}

export class ConflictError extends AppError {
  constructor(
    currentStatus: string,
    acknowledgedAt: string | null,
    message = `Event is not pending: it is ${currentStatus}.`,
  ) {
    super(409, 'CONFLICT', message, { current_status: currentStatus, acknowledged_at: acknowledgedAt });
  }
}

/** The lease id given is not the event's latest lease: someone leased it since (or never this). */
export class LeaseMismatchError extends AppError {
  constructor(currentStatus: string) {
    super(
      409,
      'CONFLICT',
      'This lease is not the event’s latest: it was leased again since, or the lease id is not one of its leases.',
      { reason: 'lease_mismatch', current_status: currentStatus },
    );
  }
}

/** A tenant already has the most subscriptions it may have. */
export class TooManySubscriptionsError extends AppError {
  constructor(limit: number) {
    super(
      409,
      'CONFLICT',
      `A tenant has at most ${limit} subscriptions: delete one you no longer need (DELETE /v1/subscriptions/{id}), or widen one's event_types, before adding another.`,
      { reason: 'too_many_subscriptions', limit },
    );
  }
}

/** A webhook target the API will not call (SSRF protection in AUTH_MODE=aws). */
export class TargetNotAllowedError extends AppError {
  constructor(message: string) {
    super(400, 'VALIDATION_ERROR', message, {
      reason: 'target_not_allowed',
      errors: [{ path: '/body/target_url', message }],
    });
  }
}

/** An extension past the 12 hours one lease may live, counted from when it was taken. */
export class LeaseTooLongError extends AppError {
  constructor(maxLeasedUntil: string) {
    super(
      409,
      'CONFLICT',
      `A lease lives at most 12 hours from when it was taken: it may be extended to ${maxLeasedUntil} at the latest.`,
      { reason: 'lease_too_long', max_leased_until: maxLeasedUntil },
    );
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(what: string, limitBytes: number, actualBytes: number | undefined) {
    super(
      413,
      'PAYLOAD_TOO_LARGE',
      actualBytes === undefined
        ? `${what} is over its limit of ${limitBytes} bytes.`
        : `${what} is ${actualBytes} bytes; the limit is ${limitBytes} bytes.`,
      actualBytes === undefined
        ? { limit_bytes: limitBytes }
        : { limit_bytes: limitBytes, actual_bytes: actualBytes },
    );
  }
}

export class UnsupportedMediaTypeError extends AppError {
  /**
   * `contentType`: what the request declared (undefined: none); `accepted`: what the operation
   * takes, from the contract (the error handler looks it up); `message` replaces the default.
   */
  constructor(
    contentType: string | undefined,
    accepted: readonly string[] = ['application/json'],
    message = `Send the body as ${oneOf(accepted)} (${contentType ? `got ${contentType}` : 'the request had no Content-Type'}).`,
  ) {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', message, {
      content_type: contentType ?? null,
      accepted: [...accepted],
    });
  }
}

/** `a`, `a or b`, `a, b or c`. */
export function oneOf(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? '');
}

export class IdempotencyKeyReusedError extends AppError {
  constructor(idempotencyKey: string, eventId: string) {
    super(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      'This idempotency key was already used with another request body. Use a new key for a new event.',
      { idempotency_key: idempotencyKey, event_id: eventId },
    );
  }
}

export class RateLimitedError extends AppError {
  /** `what`: what was too many, e.g. "failed authentications from this address". */
  constructor(retryAfterSeconds: number, what = 'requests for this API key') {
    super(
      429,
      'RATE_LIMITED',
      `Too many ${what}; retry after ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`,
      { retry_after_seconds: retryAfterSeconds },
      { headers: { 'Retry-After': String(retryAfterSeconds) } },
    );
  }
}

/** Why GET /v1/health/ready answers 503 (the contract's NotReady response). */
export type NotReadyReason = 'write_failed' | 'probe_failed' | 'probe_timed_out';

const NOT_READY_MESSAGES: Record<NotReadyReason, string> = {
  write_failed: 'the last write failed',
  probe_failed: 'the probe write failed',
  probe_timed_out: 'the probe write did not answer in time',
};

export class NotReadyError extends AppError {
  constructor(reason: NotReadyReason, store: string, since: string, retryAfterSeconds = 5) {
    super(
      503,
      'NOT_READY',
      `The store cannot take writes now (${NOT_READY_MESSAGES[reason]}); retry later.`,
      { reason, store, since },
      { headers: { 'Retry-After': String(retryAfterSeconds) } },
    );
  }
}

export class UnavailableError extends AppError {
  constructor(options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    const retryAfter = options.retryAfterSeconds ?? 1;
    super(
      503,
      'UNAVAILABLE',
      'The event store is unavailable; retry later.',
      {},
      {
        cause: options.cause,
        headers: { 'Retry-After': String(retryAfter) },
      },
    );
  }
}
