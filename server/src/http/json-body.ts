import express, { type RequestHandler } from 'express';
import { ValidationError } from '../errors';
import { exceedsDepth } from '../json-depth';

export const SINGLE_BODY_LIMIT_BYTES = 1024 * 1024;
export const BULK_BODY_LIMIT_BYTES = 5 * 1024 * 1024;
/**
 * Whole-body nesting bound, a guard against pathological bodies. It sits well above the
 * payload's own bound (64, checked per event), so that a bulk item nested a little too deep
 * fails alone rather than taking the whole request down.
 */
export const MAX_BODY_DEPTH = 128;

const BULK_PATH = '/v1/events/bulk';

/**
 * Parses JSON bodies with the limits of the contract (1 MiB, or 5 MiB for bulk ingest;
 * body-parser's own default would be 100 kB) and refuses bodies nested deeper than
 * MAX_BODY_DEPTH before anything recurses over them. `jsonMediaTypes` names the other JSON
 * media types a path takes besides application/json (CloudEvents on the ingest paths).
 */
export function jsonBody(jsonMediaTypes: Record<string, string[]> = {}): RequestHandler[] {
  const parserFor = (path: string): RequestHandler =>
    express.json({
      limit: path === BULK_PATH ? BULK_BODY_LIMIT_BYTES : SINGLE_BODY_LIMIT_BYTES,
      strict: false,
      type: ['application/json', ...(jsonMediaTypes[path] ?? [])],
    });
  const parsers = new Map(Object.keys(jsonMediaTypes).map((path) => [path, parserFor(path)]));
  const single = parserFor('');
  const bulk = parsers.get(BULK_PATH) ?? parserFor(BULK_PATH);
  return [
    // Only POST operations take a body; a body sent with another method is ignored.
    (req, res, next) => {
      if (req.method !== 'POST') return next();
      (parsers.get(req.path) ?? (req.path === BULK_PATH ? bulk : single))(req, res, next);
    },
    (req, _res, next) => {
      if (req.body !== undefined && exceedsDepth(req.body, MAX_BODY_DEPTH)) {
        throw new ValidationError(`The JSON body is nested deeper than ${MAX_BODY_DEPTH} levels.`, [
          { path: '/body', message: `must not be nested deeper than ${MAX_BODY_DEPTH} levels` },
        ]);
      }
      next();
    },
  ];
}
