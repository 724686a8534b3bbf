/**
 * `npm run bench:profile`: where a request's time goes. Runs the real server under
 * `node --cpu-prof`, drives one scenario of the A/B bench at it, stops the server (SIGTERM, so
 * the profile is written), and prints the CPU time by package and the top functions by self
 * time. The .cpuprofile is kept for Chrome DevTools or speedscope.
 *
 *   npm run bench:profile -- --scenario ingest --seconds 10
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureServerBuilt, killServer } from '../tests/helpers/server-process';
import { drive, killAll, runBench, scenarioFor, seedFor, startReal } from './bench-http';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'ingest' },
    seconds: { type: 'string', default: '10' },
  },
});

/** What a frame belongs to: an npm package, one of our files, Node itself, or V8's own work. */
function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url.slice(url.lastIndexOf('node_modules/')));
  if (inModules) return inModules[1] as string;
  const ours = /server\/dist\/(.+)\.js$/.exec(url);
  if (ours) return `ours: ${ours[1]}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/').slice(0, 2).join('/')}`;
  return url;
}

function summarize(profile: Profile): void {
  const totalSamples = profile.samples.length;
  const bySelf = new Map<string, number>();
  const byOwner = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const owner = ownerOf(url, functionName);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + hits);
    const name = `${functionName || '(anonymous)'} ${owner}:${lineNumber + 1}`;
    bySelf.set(name, (bySelf.get(name) ?? 0) + hits);
  }
  const idle = byOwner.get('(idle)') ?? 0;
  const busy = totalSamples - idle;
  const share = (hits: number) => `${((hits / busy) * 100).toFixed(1).padStart(5)} %`;
  console.log(
    `\n${busy} busy samples of ${totalSamples} (${((busy / totalSamples) * 100).toFixed(0)} % of the time on CPU); shares below are of the busy samples`,
  );
  console.log('\nself time by owner:');
  for (const [owner, hits] of [...byOwner]
    .filter(([o]) => o !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 25)) {
    console.log(`  ${share(hits)}  ${owner}`);
  }
  console.log('\ntop functions by self time:');
  for (const [name, hits] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`  ${share(hits)}  ${name}`);
  }
}

async function main(): Promise<void> {
  ensureServerBuilt();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'triggers-profile-'));
  const file = path.join(dir, 'profile.sqlite');
  const ackIds = await seedFor(values.scenario, file);
  const real = await startReal('profiled', {
    TRIGGERS_SQLITE_PATH: file,
    NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}`,
  });
  try {
    const scenario = scenarioFor(values.scenario, real.target, ackIds, { next: 0 });
    const result = await drive(scenario, Number(values.seconds));
    console.log(
      `${values.scenario}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms (under the profiler), errors ${result.errors + result.non2xx}`,
    );
    real.server.child.kill('SIGTERM');
    await real.server.exited;
  } finally {
    await killServer(real.server);
    killAll();
  }
  const written = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!written) throw new Error(`no profile written in ${dir}`);
  summarize(JSON.parse(readFileSync(path.join(dir, written), 'utf8')) as Profile);
  console.log(`\nprofile: ${path.join(dir, written)}`);
}

runBench(main);
