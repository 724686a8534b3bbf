import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Security headers for a JSON API (helmet), on every answer, errors included:
 * - `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`: a JSON answer
 *   opened as a page can load nothing and be framed by no one. The /docs page replaces it
 *   with DOCS_CONTENT_SECURITY_POLICY.
 * - `X-Frame-Options: DENY` for browsers without `frame-ancestors`.
 * - `Strict-Transport-Security` (one year, subdomains): browsers ignore it over plain HTTP,
 *   and behind TLS (API Gateway) it keeps them on HTTPS.
 * - helmet's other defaults: `nosniff`, `Referrer-Policy: no-referrer`, same-origin
 *   `Cross-Origin-Opener-Policy` and `Cross-Origin-Resource-Policy` (CORS requests, which
 *   browsers send with an API key header, are governed by CORS instead).
 */
export function securityHeaders(): RequestHandler {
  const headers = headersSetBy(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      },
      xFrameOptions: { action: 'deny' },
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    }),
  );
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}

/**
 * The headers `middleware` sets, found once by running it on a stand-in response. helmet
 * decides its headers from its options alone (no directive here depends on the request), but
 * computes them again on every request through a dozen chained middlewares; the list is
 * set directly instead (its A/B is in BENCHMARKS.md).
 */
function headersSetBy(middleware: RequestHandler): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  const response = {
    setHeader: (name: string, value: unknown) => headers.push([name, String(value)]),
    removeHeader: () => undefined,
  };
  let done = false;
  middleware({} as never, response as never, (error?: unknown) => {
    if (error) throw error;
    done = true;
  });
  if (!done) throw new Error('the security headers middleware did not finish at once');
  return headers;
}

/**
 * What the Redoc page (docs/routes.ts) loads, and nothing else: its script from this server,
 * the contract by fetch, the styles Redoc injects at run time (styled-components writes
 * `<style>` elements, hence 'unsafe-inline' for styles only), the search index's Web Worker,
 * which Redoc starts from a blob: URL, and data: images. No eval, no other origin: the footer
 * logo Redoc would load from Redocly's CDN is taken out of the script we serve
 * (docs/redoc-script.ts), so the page loads nothing the policy refuses.
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  'worker-src blob:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
