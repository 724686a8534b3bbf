import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import { ensureBuilt } from './build';

const ROOT = path.resolve(__dirname, '../..');
const ENTRY = path.join(ROOT, 'server/dist/local.js');

/**
 * The node flags `npm start` runs the server with (package.json's start script, the one place
 * they are written), so that tests and the bench run the server as users do.
 */
export const SERVER_NODE_FLAGS = ((): string[] => {
  const start = (
    JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
  ).scripts.start;
  const flags = /\bnode((?: --\S+)*) server\/dist\/local\.js$/.exec(start);
  if (!flags) throw new Error(`npm start no longer reads "node [flags] server/dist/local.js": ${start}`);
  return (flags[1] ?? '').split(' ').filter(Boolean);
})();

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Everything the process printed so far (its JSON log lines). */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | NodeJS.Signals | null>;
}

/** Compiles the server unless server/dist is newer than every source file. */
export function ensureServerBuilt(): void {
  ensureBuilt('server', ENTRY, ['server/src']);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts the real server (`node server/dist/local.js`, what `npm start` runs) on a free
 * port of 127.0.0.1 and resolves once GET /v1/health answers 200 from it. Another process may
 * take the probed port in between: then it tries another one. (The server warms up for about
 * half a second before it listens; a server of another test that took the port meanwhile
 * would answer the health check, so on Linux the answer only counts once this process holds
 * the listening socket.)
 */
export async function startServer(
  env: Record<string, string>,
  timeoutMs = 20_000,
  /** Another build of the server (the A/B bench runs one from a git worktree). */
  entry = ENTRY,
): Promise<ServerProcess> {
  let lastOutput = '';
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const server = spawnServer(env, env.PORT ?? String(await freePort()), entry);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && isRunning(server)) {
      const healthy = await fetch(`${server.baseUrl}/v1/health`, { signal: AbortSignal.timeout(1_000) }).then(
        async (res) => {
          await res.arrayBuffer();
          return res.status === 200;
        },
        () => false,
      );
      if (healthy && listensOn(server, Number(new URL(server.baseUrl).port))) return server;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    lastOutput = server.output();
    await killServer(server);
    if (!lastOutput.includes('EADDRINUSE') || env.PORT) break;
  }
  throw new Error(`the server did not become healthy; its output:\n${lastOutput}`);
}

function spawnServer(env: Record<string, string>, port: string, entry: string): ServerProcess {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, entry], {
    cwd: path.resolve(path.dirname(entry), '../..'),
    env: { ...process.env, HOST: '127.0.0.1', TRIGGERS_RATE_LIMIT: '0', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? code));
    child.once('error', () => resolve(null));
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/**
 * Whether `server`'s process holds the socket listening on 127.0.0.1:`port` (Linux: its file
 * descriptors against /proc/net/tcp). Without /proc, assumed: the health check alone decides.
 */
function listensOn(server: ServerProcess, port: number): boolean {
  const pid = server.child.pid;
  if (pid === undefined || !existsSync('/proc/net/tcp') || !existsSync(`/proc/${pid}/fd`)) return true;
  const wanted = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  // Columns: sl, local_address, rem_address, st (0A: LISTEN), …, inode (the tenth).
  const inodes = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === wanted && fields[3] === '0A')
    .map((fields) => `socket:[${fields[9]}]`);
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return inodes.includes(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        return false; // closed since the listing
      }
    });
  } catch {
    return false; // the process is gone
  }
}

export function isRunning(server: ServerProcess): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}

/** kill -9, and wait (up to 10 s) for the process to be gone. */
export async function killServer(server: ServerProcess): Promise<void> {
  if (isRunning(server)) server.child.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([server.exited, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
}
