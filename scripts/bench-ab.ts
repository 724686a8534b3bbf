/**
 * `npm run bench:ab`: one change, A against B, on the same machine at the same time. The
 * whole-run numbers of `npm run bench` move by ±0.1 of a ratio between runs on a shared
 * machine, so a lever worth 10–20 % only shows when its two sides alternate: A is a git ref
 * built into a temporary worktree (or this working tree again), B is this working tree, each
 * a real server process on its own seeded SQLite file, and their rounds interleave A, B, A, B.
 *
 *   npm run bench:ab -- --base HEAD~1                          the last commit's change
 *   npm run bench:ab -- --a-env NODE_OPTIONS=--jitless         a setting, same build
 *   options: --scenario ingest|ingest64|ack|inbox (repeatable, default ingest),
 *            --rounds 4, --seconds 6, --a-env/--b-env K=V (repeatable)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureServerBuilt, killServer, type ServerProcess } from '../tests/helpers/server-process';
import { drive, killAll, median, type Round, runBench, scenarioFor, seedFor, startReal } from './bench-http';

const ROOT = path.resolve(__dirname, '..');

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    scenario: { type: 'string', multiple: true, default: ['ingest'] },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '6' },
    'a-env': { type: 'string', multiple: true, default: [] },
    'b-env': { type: 'string', multiple: true, default: [] },
  },
});

const envOf = (pairs: string[]): Record<string, string> =>
  Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`expected K=V, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );

/** Builds `ref` into a detached worktree sharing this checkout's node_modules; returns its entry. */
function buildRef(ref: string, into: string): string {
  execFileSync('git', ['worktree', 'add', '--detach', '--force', into, ref], { cwd: ROOT, stdio: 'ignore' });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(into, 'node_modules'));
  execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-b', 'server'], { cwd: into, stdio: 'inherit' });
  return path.join(into, 'server/dist/local.js');
}

interface Side {
  label: string;
  entry?: string;
  env: Record<string, string>;
}

async function main(): Promise<void> {
  ensureServerBuilt();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'triggers-bench-ab-'));
  const worktree = path.join(tmp, 'base');
  const servers: ServerProcess[] = [];
  const sides: Side[] = [
    {
      label: values.base ? `A ${values.base}` : 'A',
      entry: values.base ? buildRef(values.base, worktree) : undefined,
      env: envOf(values['a-env']),
    },
    { label: 'B working tree', env: envOf(values['b-env']) },
  ];
  try {
    const rounds = Number(values.rounds);
    const seconds = Number(values.seconds);
    for (const kind of values.scenario) {
      // Each side gets the same freshly seeded file, so neither inherits the other's writes.
      const running = [];
      for (const [index, side] of sides.entries()) {
        const file = path.join(tmp, `${kind}-${index}.sqlite`);
        const ackIds = await seedFor(kind, file);
        const real = await startReal(side.label, { TRIGGERS_SQLITE_PATH: file, ...side.env }, side.entry);
        servers.push(real.server);
        const scenario = scenarioFor(kind, real.target, ackIds, { next: 0 });
        running.push({ side, scenario, results: [] as Round[] });
      }
      for (const { scenario } of running) await drive(scenario, 2);
      for (let round = 1; round <= rounds; round += 1) {
        // Alternate which side goes first, so neither always runs on a warmer machine.
        const order = round % 2 === 1 ? running : [...running].reverse();
        for (const entry of order) {
          const result = await drive(entry.scenario, seconds);
          entry.results.push(result);
          console.log(
            `${kind} round ${round} ${entry.side.label}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, CPU ${result.cpuUsPerRequest} µs/request, errors ${result.errors + result.non2xx}, RSS ${result.rssMb} MB`,
          );
        }
      }
      const [a, b] = running.map((entry) => ({
        rps: median(entry.results.map((r) => r.rps)),
        p99: median(entry.results.map((r) => r.p99)),
        cpu: median(entry.results.map((r) => r.cpuUsPerRequest ?? Number.NaN)),
        errors: entry.results.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
      }));
      if (!a || !b) throw new Error('two sides expected');
      console.log(
        `${kind}: A ${a.rps} req/s, p99 ${a.p99} ms, ${a.cpu} µs CPU/request (errors ${a.errors}) | B ${b.rps} req/s, p99 ${b.p99} ms, ${b.cpu} µs CPU/request (errors ${b.errors}) | B/A req/s ${(b.rps / a.rps).toFixed(2)}, CPU/request ${(b.cpu / a.cpu).toFixed(2)}`,
      );
      for (const server of servers.splice(0)) await killServer(server);
    }
  } finally {
    for (const server of servers) await killServer(server);
    killAll();
    if (existsSync(worktree)) {
      execFileSync('git', ['worktree', 'remove', '--force', worktree], { cwd: ROOT, stdio: 'ignore' });
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

runBench(main);
