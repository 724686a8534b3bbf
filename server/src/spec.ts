import { readFileSync } from 'node:fs';
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
