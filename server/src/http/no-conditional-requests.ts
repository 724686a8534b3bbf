import type { RequestHandler } from 'express';

/**
 * The API has no conditional requests (no ETag, no Last-Modified). Dropping the conditional
 * headers keeps Express from answering a `304` with no body, which the contract never does.
 */
export const noConditionalRequests: RequestHandler = (req, _res, next) => {
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  delete req.headers['if-match'];
  delete req.headers['if-unmodified-since'];
  next();
};
