import cors from 'cors';
import type { RequestHandler } from 'express';

/**
 * CORS for the exact origins in TRIGGERS_CORS_ORIGINS, and only when that is set (never `*`).
 * An allowed origin is echoed in Access-Control-Allow-Origin and its preflight (OPTIONS) is
 * answered 204 here. Any other origin gets no CORS header, and its preflight goes on to the
 * route guard, which answers 405 (the contract has no OPTIONS), so the browser refuses it.
 * No credentials: the API key travels in a header the page sets, never in a cookie.
 */
export function corsAllowList(origins: readonly string[]): RequestHandler[] {
  const allowed = new Set(origins);
  const handler = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['Content-Type', 'X-API-Key', 'Authorization', 'Idempotency-Key', 'X-Request-ID'],
    exposedHeaders: [
      'X-Request-ID',
      'Location',
      'Retry-After',
      'RateLimit',
      'RateLimit-Policy',
      'Idempotent-Replayed',
      'Allow',
    ],
    maxAge: 600,
    optionsSuccessStatus: 204,
  });
  return [
    // Answers differ by Origin, allowed or not: a shared cache must keep them apart.
    (_req, res, next) => {
      res.vary('Origin');
      next();
    },
    handler,
  ];
}
