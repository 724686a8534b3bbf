import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Compiles the workspace `project` with `tsc -b` unless `entry` (a file it emits) is newer than
 * every file under `sources` (folders, from the repository's root), so that tests run what is checked in.
 */
export function ensureBuilt(project: string, entry: string, sources: string[]): void {
  let built = 0;
  try {
    built = statSync(path.resolve(ROOT, entry)).mtimeMs;
  } catch {
    built = 0;
  }
  const newest = Math.max(...sources.map((dir) => newestMtime(path.join(ROOT, dir))));
  if (built < newest) execFileSync('npx', ['tsc', '-b', project], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * The environment without what `npm test` adds (`npm_config_local_prefix=/work/main`, the
 * lifecycle variables…), so that an npm run in a folder of its own sees a project of its own;
 * the cache and registry settings stay.
 */
export const NPM_ENV = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) =>
      !/^npm_/i.test(name) ||
      /^npm_config_(cache|userconfig|globalconfig|registry|cafile|strict_ssl|proxy|https_proxy|noproxy)$/i.test(
        name,
      ),
  ),
);
