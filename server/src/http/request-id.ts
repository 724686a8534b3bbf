import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Every character SAFE_REQUEST_ID does not allow. */
const UNSAFE_CHARACTERS = /[^A-Za-z0-9._:-]/g;

/**
 * Gives every request an id: the client's `X-Request-ID` when it is safe to echo and log,
 * else a new one. It is answered in the `X-Request-ID` header and in every JSON body.
 */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = isSafeRequestId(given) ? given : `req_${randomUUID().replaceAll('-', '')}`;
  res.locals.requestId = id;
  res.setHeader('X-Request-ID', id);
  next();
};

export function isSafeRequestId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_REQUEST_ID.test(value);
}

/** `value` with the characters a request id may not carry removed, or undefined if none is left. */
export function toSafeRequestId(value: string | undefined): string | undefined {
  const safe = value?.replace(UNSAFE_CHARACTERS, '').slice(0, 128);
  return safe || undefined;
}

export function requestIdOf(res: { locals: Record<string, unknown> }): string {
  return res.locals.requestId as string;
}
