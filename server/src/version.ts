import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The file beside the delivery Lambdas' bundle that holds the API's version (the contract's
 * info.version) as `{"version": "..."}`: that bundle ships no contract, and parsing the YAML
 * would bring a YAML parser into it.
 */
export const BUNDLED_VERSION_FILE = 'version.json';

/** The version a bundle in `dir` was built with; undefined outside a bundle. */
export function loadBundledVersion(dir: string): string | undefined {
  const file = path.join(dir, BUNDLED_VERSION_FILE);
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
