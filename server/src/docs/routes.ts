import { Router } from 'express';
import { DOCS_CONTENT_SECURITY_POLICY } from '../http/security-headers';

// Relative URLs, so the page also works behind a path prefix (an API Gateway stage).
const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Triggers API reference</title>
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="openapi.yaml" hide-download-button="false"></redoc>
    <script src="docs/redoc.standalone.js"></script>
  </body>
</html>
`;

/** The contract, and an HTML reference rendered from it by Redoc served from npm (no CDN). */
export function docsRouter(
  specText: string,
  // Resolved from node_modules unless given: a bundled Lambda ships its own copy.
  redocBundlePath = require.resolve('redoc/bundles/redoc.standalone.js'),
): Router {
  // Strict and case-sensitive like the contract: /docs/ is not /docs (and its relative URLs
  // would point one level too deep), so it falls through to the 404.
  const router = Router({ strict: true, caseSensitive: true });
  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml; charset=utf-8').send(specText);
  });
  router.get('/docs', (_req, res) => {
    // The one HTML page: it gets a policy that lets Redoc run, in place of the API's `'none'`.
    res.setHeader('Content-Security-Policy', DOCS_CONTENT_SECURITY_POLICY);
    res.type('text/html; charset=utf-8').send(DOCS_HTML);
  });
  router.get('/docs/redoc.standalone.js', (_req, res) => {
    res.sendFile(redocBundlePath, { maxAge: '1d' });
  });
  return router;
}
