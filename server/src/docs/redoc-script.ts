import { readFileSync } from 'node:fs';

/**
 * The footer logo Redoc's sidebar loads from Redocly's CDN (the "API docs by Redocly" link).
 * The docs page's CSP allows images from this server only, so the browser blocked it and
 * reported a CSP violation on every visit.
 */
export const REDOC_FOOTER_LOGO_URL = 'https://cdn.redoc.ly/redoc/logo-mini.svg';

/**
 * Stands in for the logo: an empty data: URL, which the CSP allows and which fails to decode
 * without a network request or a console message. Redoc's logo component drops its image when
 * it fails to load, so the footer keeps its text link and shows no broken image.
 */
const NO_LOGO = 'data:,';

/**
 * Redoc's standalone bundle as the docs page loads it: the file from npm (or the copy a Lambda
 * bundle ships), with the footer logo dropped rather than the CSP widened to Redocly's CDN.
 */
export function readRedocScript(bundlePath: string): string {
  return readFileSync(bundlePath, 'utf8').replaceAll(REDOC_FOOTER_LOGO_URL, NO_LOGO);
}
