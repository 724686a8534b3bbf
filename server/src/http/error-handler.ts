import type { ErrorRequestHandler, Response } from 'express';
import {
  AppError,
  type ErrorCode,
  type ErrorDetails,
  type FieldError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors';
import type { AppMetrics } from '../metrics';
import { ERROR_CODE_LOCAL } from './logger';
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
export function errorHandler(metrics: AppMetrics): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    let appError = toAppError(error, req.method, req.path);
    if (!appError) {
      req.log?.error({ err: error }, 'unhandled error');
      appError = new AppError(
        500,
        'INTERNAL_ERROR',
        'An unexpected error occurred. Quote the request id when reporting it.',
      );
    } else if (appError.status >= 500) {
      req.log?.error({ err: appError.cause ?? appError }, appError.message);
    }
    if (!isWarmUpRequest(req)) metrics.errorAnswered(appError.code);
    res.locals[ERROR_CODE_LOCAL] = appError.code;
    send(res, appError.status, appError.code, appError.message, appError.details, appError.headers);
  };
}

function toAppError(error: unknown, method: string, path: string): AppError | undefined {
  if (error instanceof AppError) return error;
  const parserError = asBodyParserError(error);
  if (parserError) return fromBodyParser(parserError);
  const validatorError = asValidatorError(error);
  if (validatorError) return fromValidator(validatorError, method, path);
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

function fromValidator(error: ValidatorError, method: string, path: string): AppError | undefined {
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
    case 415:
      return new UnsupportedMediaTypeError(undefined);
    default:
      if (error.status >= 400 && error.status < 500) {
        const errors: FieldError[] = (error.errors ?? []).map((item) => ({
          path: item.path ?? '',
          message: item.message ?? 'is invalid',
        }));
        const first = errors[0];
        const message = first
          ? `${first.path ? `${first.path} ` : ''}${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`
          : (error.message ?? 'The request does not match the API contract.');
        return new ValidationError(message, errors);
      }
      // Anything else from the validator is a response that broke the contract: our bug.
      return undefined;
  }
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
