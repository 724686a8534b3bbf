import { Router } from 'express';
import { DOCS_CONTENT_SECURITY_POLICY } from '../http/security-headers';
import type { LoadedSpec } from '../spec';
import { withCurlSamples } from './code-samples';
import { readRedocScript } from './redoc-script';

// Relative URLs, so the page also works behind a path prefix (an API Gateway stage). Redoc
// renders the reference's document (the contract plus a curl sample per operation), curl
// first (the JSON payload tab second); its download button still gives the contract as
// written. The empty icon keeps the browser from asking for /favicon.ico, a 404.
const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Triggers API reference</title>
    <link rel="icon" href="data:,">
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="docs/reference.json" download-definition-url="openapi.yaml" download-file-name="triggers.v1.yaml" hide-download-button="false" payload-sample-idx="1"></redoc>
    <script src="docs/redoc.standalone.js"></script>
  </body>
</html>
`;

/** A day, for Redoc's script: it changes only with Redoc's version. */
const CACHE_CONTROL = 'public, max-age=86400';

/**
 * `/` (a redirect to the reference), the contract, and an HTML reference rendered from it by
 * Redoc served from npm (no CDN).
 */
export function docsRouter(
  spec: LoadedSpec,
  // Resolved from node_modules unless given: a bundled Lambda ships its own copy.
  redocBundlePath = require.resolve('redoc/bundles/redoc.standalone.js'),
): Router {
  // Made on first use, not at start: a Lambda cold start should not pay for a page no one asked for.
  const reference = once(() => JSON.stringify(withCurlSamples(spec.document)));
  const redocScript = once(() => readRedocScript(redocBundlePath));

  // Strict and case-sensitive like the contract: /docs/ is not /docs (and its relative URLs
  // would point one level too deep), so it falls through to the 404.
  const router = Router({ strict: true, caseSensitive: true });
  router.get('/', (_req, res) => {
    // Relative, so that behind API Gateway `https://…/prod/` leads to `https://…/prod/docs`
    // (the stack's ApiUrl ends with a slash). Temporary (302): browsers do not cache it for good.
    res.location('docs').status(302).end();
  });
  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml; charset=utf-8').send(spec.text);
  });
  router.get('/docs', (_req, res) => {
    // The one HTML page: it gets a policy that lets Redoc run, in place of the API's `'none'`.
    res.setHeader('Content-Security-Policy', DOCS_CONTENT_SECURITY_POLICY);
    res.type('text/html; charset=utf-8').send(DOCS_HTML);
  });
  router.get('/docs/reference.json', (_req, res) => {
    // Not cached, as /openapi.yaml is not: it is the contract, which a deployment may change.
    res.type('application/json; charset=utf-8').send(reference());
  });
  router.get('/docs/redoc.standalone.js', (_req, res) => {
    res.setHeader('Cache-Control', CACHE_CONTROL);
    res.type('text/javascript; charset=utf-8').send(redocScript());
  });
  return router;
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}
