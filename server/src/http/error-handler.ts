import type { ErrorRequestHandler, Request, Response } from 'express';
import {
  AppError,
  type ErrorCode,
  type ErrorDetails,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors';
import type { AppMetrics } from '../metrics';
import { type RequestBodyHint, summarize, type ValidationMessages } from '../validation-messages';
import { ERROR_CODE_LOCAL, requestLogger } from './logger';
import { requestIdOf } from './request-id';
import { isWarmUpRequest } from './warm-up';

interface ValidatorError {
  status: number;
  message?: string;
  path?: string;
  errors?: Array<{ path?: string; message?: string }>;
  headers?: { Allow?: string };
}

interface BodyParserError {
  type?: string;
  expose?: boolean;
  status?: number;
  limit?: number;
  length?: number;
  body?: unknown;
  charset?: string;
  encoding?: string;
}

/**
 * The one error middleware: every error — ours, the validator's, body-parser's, the store's
 * or a bug — leaves as `{error: {code, message, details, request_id}}`. The body is written
 * directly (not through the validator's res.json), so an error can never fail validation.
 * Causes of 5xx go to the log, once, and never to the client.
 */
export function errorHandler(metrics: AppMetrics, messages: ValidationMessages): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    let appError = toAppError(error, req, messages);
    if (!appError) {
      requestLogger(res)?.error({ err: error, request_id: requestIdOf(res) }, 'unhandled error');
      appError = new AppError(
        500,
        'INTERNAL_ERROR',
        'An unexpected error occurred. Quote the request id when reporting it.',
      );
    } else if (appError.status >= 500) {
      requestLogger(res)?.error(
        { err: appError.cause ?? appError, request_id: requestIdOf(res) },
        appError.message,
      );
    }
    if (!isWarmUpRequest(req)) metrics.errorAnswered(appError.code);
    res.locals[ERROR_CODE_LOCAL] = appError.code;
    send(res, appError.status, appError.code, appError.message, appError.details, appError.headers);
  };
}

function toAppError(error: unknown, req: Request, messages: ValidationMessages): AppError | undefined {
  if (error instanceof AppError) return error;
  const parserError = asBodyParserError(error);
  if (parserError) return fromBodyParser(parserError);
  const validatorError = asValidatorError(error);
  if (validatorError) return fromValidator(validatorError, req, messages);
  return undefined;
}

function fromBodyParser(error: BodyParserError): AppError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return new PayloadTooLargeError('The request body', error.limit ?? 0, error.length);
    case 'entity.parse.failed':
      return new ValidationError('The request body is not valid JSON.', [
        { path: '/body', message: 'is not valid JSON' },
      ]);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new UnsupportedMediaTypeError(
        `application/json with ${error.charset ? `charset ${error.charset}` : `encoding ${error.encoding}`}`,
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return new ValidationError('The request body was incomplete.', [
        { path: '/body', message: 'was cut short or did not match Content-Length' },
      ]);
    default:
      // A body that cannot be decompressed (zlib's errors carry a 400 status, but no type).
      if (error.type === undefined && error.expose && error.status === 400) {
        return new ValidationError('The request body could not be decoded; check its Content-Encoding.', [
          { path: '/body', message: 'could not be decoded' },
        ]);
      }
      return undefined;
  }
}

function fromValidator(
  error: ValidatorError,
  req: Request,
  messages: ValidationMessages,
): AppError | undefined {
  const { method, path } = req;
  switch (error.status) {
    // The route guard answers unknown paths and methods first, from req.path; the validator
    // matches req.originalUrl, so a target that differs only there (absolute-form, a fragment)
    // passes the guard and is refused here (tests/api/http.test.ts).
    case 404:
      return new NotFoundError(`No such path: ${method} ${path}.`);
    case 405: {
      const allow = (error.headers?.Allow ?? '')
        .split(',')
        .map((verb) => verb.trim().toUpperCase())
        .filter(Boolean);
      return new MethodNotAllowedError(method, allow);
    }
    case 415: {
      const body = requestBodyOf(req, messages);
      const accepted = body?.mediaTypes ?? ['application/json'];
      const contentType = req.headers['content-type'];
      if (!contentType && body && hasNoBody(req)) {
        return new UnsupportedMediaTypeError(undefined, accepted, emptyBodyMessage(body));
      }
      return new UnsupportedMediaTypeError(contentType, accepted);
    }
    default:
      if (error.status >= 400 && error.status < 500) return fromRequestValidation(error, req, messages);
      // Anything else from the validator is a response that broke the contract: our bug.
      return undefined;
  }
}

/**
 * A request the contract refuses, in words. Two mistakes of a first request get a message of
 * their own: an empty body (the validator would say that `/body` is required, or list every
 * required field) and a JSON array where an object wraps the list (bulk: `{"items": [...]}`).
 */
function fromRequestValidation(error: ValidatorError, req: Request, messages: ValidationMessages): AppError {
  const body = requestBodyOf(req, messages);
  const bodyErrors = (error.errors ?? []).filter((item) => item.path?.startsWith('/body'));
  if (body && bodyErrors.length > 0 && hasNoBody(req)) {
    return new ValidationError(emptyBodyMessage(body), [
      { path: '/body', message: 'is empty: the request needs a JSON object' },
    ]);
  }
  if (body && Array.isArray(req.body) && bodyErrors.some((item) => item.path === '/body')) {
    const message = body.listField
      ? `The request body is a JSON array: wrap the list in an object, as {"${body.listField}":[…]}.`
      : `The request body is a JSON array: send a JSON object such as ${body.skeleton}.`;
    return new ValidationError(message, [{ path: '/body', message: 'must be a JSON object, not an array' }]);
  }
  const errors = messages.fieldErrors(error.errors ?? []);
  return new ValidationError(summarize(errors), errors);
}

/** What the contract says of the body of the request's operation (set by the validator). */
function requestBodyOf(req: Request, messages: ValidationMessages): RequestBodyHint | undefined {
  const route = (req as Request & { openapi?: { openApiRoute?: string } }).openapi?.openApiRoute;
  return route ? messages.requestBody(req.method, route) : undefined;
}

/** No body bytes at all: no Content-Length and no Transfer-Encoding, or Content-Length: 0. */
function hasNoBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return length === '0' || (length === undefined && req.headers['transfer-encoding'] === undefined);
}

/** The example names the contract's first media type of the operation, its plain JSON one. */
function emptyBodyMessage(body: RequestBodyHint): string {
  return `The request body is empty: send a JSON object such as ${body.skeleton} with Content-Type: ${body.mediaTypes[0]}.`;
}

function asBodyParserError(error: unknown): BodyParserError | undefined {
  const candidate = error as (BodyParserError & { errors?: unknown }) | null;
  if (!candidate || typeof candidate.status !== 'number' || Array.isArray(candidate.errors)) return undefined;
  return typeof candidate.type === 'string' || candidate.expose === true ? candidate : undefined;
}

function asValidatorError(error: unknown): ValidatorError | undefined {
  const candidate = error as Partial<ValidatorError> | null;
  return candidate && typeof candidate.status === 'number' && Array.isArray(candidate.errors)
    ? (candidate as ValidatorError)
    : undefined;
}

function send(
  res: Response,
  status: number,
  code: ErrorCode,
  message: string,
  details: ErrorDetails,
  headers: Readonly<Record<string, string>> = {},
): void {
  const body = { error: { code, message, details, request_id: requestIdOf(res) } };
  res.status(status);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
