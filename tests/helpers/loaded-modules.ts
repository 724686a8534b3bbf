import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Runs `script` (CommonJS, from the repository's root) in a fresh Node process and answers
 * the files of every module it had loaded once the promise the script leaves in `done` settled.
 * A jest test cannot ask this of itself: jest keeps modules in a registry of its own, not in
 * require.cache.
 */
export function modulesLoadedBy(script: string): string[] {
  const probe = `
    let done;
    ${script}
    Promise.resolve(done).then(() => {
      process.stdout.write(JSON.stringify(Object.keys(require.cache)));
      process.exit(0);
    });
  `;
  const run = spawnSync(process.execPath, ['-e', probe], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`the probe failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as string[];
}

/** The packages among `files` (`@aws-sdk/client-dynamodb`, `multer`…), each once. */
export function packagesOf(files: string[]): string[] {
  const names = files.map((file) => /.*node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file)?.[1]);
  return [...new Set(names.filter((name): name is string => name !== undefined))].map((name) =>
    name.replace('\\', '/'),
  );
}
