import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * The contract, read once at start. From server/src (tsx, jest) and from server/dist (node)
 * it sits two folders up; a bundled Lambda passes its own copy's path.
 */
export const DEFAULT_SPEC_PATH = path.resolve(__dirname, '../../openapi/triggers.v1.yaml');

export interface LoadedSpec {
  /** The YAML text, served as-is at GET /openapi.yaml. */
  text: string;
  /** The parsed document. */
  document: Record<string, unknown> & {
    info: { version: string };
    paths: Record<string, Record<string, unknown>>;
  };
}

export function loadSpec(specPath: string = DEFAULT_SPEC_PATH): LoadedSpec {
  const text = readFileSync(specPath, 'utf8');
  return { text, document: parse(text) as LoadedSpec['document'] };
}

/** Files a Lambda bundle ships beside index.js (infra/src/lambda-bundle.ts writes them). */
export const BUNDLED_SPEC_YAML = 'triggers.v1.yaml';
export const BUNDLED_SPEC_JSON = 'triggers.v1.json';
export const BUNDLED_REDOC_FILE = 'redoc.standalone.js';

/**
 * The contract as a Lambda bundle ships it, when `dir` holds one: the YAML to serve, and the
 * document already parsed at build time (parsing the YAML would cost a cold start ~0.1 s).
 */
export function loadBundledSpec(dir: string): LoadedSpec | undefined {
  const json = path.join(dir, BUNDLED_SPEC_JSON);
  if (!existsSync(json)) return undefined;
  return {
    text: readFileSync(path.join(dir, BUNDLED_SPEC_YAML), 'utf8'),
    document: JSON.parse(readFileSync(json, 'utf8')) as LoadedSpec['document'],
  };
}
