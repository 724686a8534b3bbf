/**
 * DynamoDB Local (AWS's own emulator, a Java program) for the tests.
 *
 * The jar ships inside the npm package amplify-dynamodb-simulator (283 dependencies, so it
 * is not a dependency here): `npm pack` fetches only its tarball, and `package/emulator/` is
 * extracted into node_modules/.cache, once. Java 17 must be on the PATH (or in JAVA_HOME);
 * nothing here ever skips: when DynamoDB Local cannot start, the tests fail and say why.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server-process';

export const DYNAMODB_LOCAL_VERSION = '1.25.1';
const PACKAGE_SPEC = 'amplify-dynamodb-simulator@2.9.30';
/** `npm view amplify-dynamodb-simulator@2.9.30 dist.integrity`: the tarball must match it. */
const PACKAGE_INTEGRITY =
  'sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==';

const ROOT = path.resolve(__dirname, '../..');
const CACHE_PARENT = path.join(ROOT, 'node_modules/.cache/dynamodb-local');
const CACHE_DIR = path.join(CACHE_PARENT, DYNAMODB_LOCAL_VERSION);

/**
 * JVM and DynamoDB Local arguments (after `java`). `-disableTelemetry` is accepted by 1.25.1
 * but read by nothing: only the environment variable DDB_LOCAL_TELEMETRY=0 (set in
 * `startDynamoDbLocal`) stops its Cognito/Pinpoint calls and its metadata file in the cwd.
 * `-XX:TieredStopAtLevel=1` (C1 JIT only), measured here: ready in ~1.45 s instead of ~1.9 s,
 * and 1.5-2x the PutItem/Query throughput over a test-sized run (C2 compiling costs CPU on 2 cores).
 */
export function dynamoDbLocalArgs(port: number): string[] {
  return [
    '-XX:TieredStopAtLevel=1',
    '-Djava.library.path=./DynamoDBLocal_lib',
    '-jar',
    'DynamoDBLocal.jar',
    '-inMemory',
    '-port',
    String(port),
    '-disableTelemetry',
  ];
}

function isComplete(dir: string): boolean {
  return existsSync(path.join(dir, 'DynamoDBLocal.jar')) && existsSync(path.join(dir, 'DynamoDBLocal_lib'));
}

function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`\`${command} ${args.join(' ')}\` failed: ${error.message}\n${stdout}${stderr}`));
        } else {
          resolve(stdout + stderr);
        }
      },
    );
  });
}

async function sha512Integrity(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest('base64')}`;
}

/** Removes what killed runs left (`.tmp-*` over an hour old: a live run's is minutes old). */
async function removeStaleTempDirs(): Promise<void> {
  for (const name of await readdir(CACHE_PARENT)) {
    if (!name.startsWith('.tmp-')) continue;
    const dir = path.join(CACHE_PARENT, name);
    const modified = await stat(dir).then(
      (info) => info.mtimeMs,
      () => Date.now(),
    );
    if (Date.now() - modified > 60 * 60_000) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Returns the folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/, downloading and
 * extracting it first when node_modules/.cache does not have it yet. The folder appears in
 * one `rename`, so a concurrent or interrupted run never sees half of it.
 */
export async function ensureDynamoDbLocalJar(): Promise<string> {
  if (isComplete(CACHE_DIR)) return CACHE_DIR;

  await mkdir(CACHE_PARENT, { recursive: true });
  await removeStaleTempDirs();
  // npm runs outside the repository (so that no workspace or project config applies); the
  // extraction happens next to the cache so that the final rename stays on one filesystem.
  const packDir = await mkdtemp(path.join(os.tmpdir(), 'dynamodb-local-pack-'));
  const extractDir = await mkdtemp(path.join(CACHE_PARENT, '.tmp-'));
  try {
    await run(
      'npm',
      ['pack', PACKAGE_SPEC, '--pack-destination', packDir, '--ignore-scripts', '--loglevel=error'],
      packDir,
      10 * 60_000,
    );
    const tarballs = (await readdir(packDir)).filter((name) => name.endsWith('.tgz'));
    if (tarballs.length !== 1)
      throw new Error(`npm pack ${PACKAGE_SPEC} left ${tarballs.join(', ') || 'no tarball'}`);
    const tarball = path.join(packDir, tarballs[0] as string);
    const integrity = await sha512Integrity(tarball);
    if (integrity !== PACKAGE_INTEGRITY) {
      throw new Error(`${PACKAGE_SPEC}: integrity ${integrity}, expected ${PACKAGE_INTEGRITY}`);
    }
    await run('tar', ['-xzf', tarball, '-C', extractDir, 'package/emulator'], extractDir, 5 * 60_000);
    const extracted = path.join(extractDir, 'package/emulator');
    if (!isComplete(extracted)) throw new Error(`${PACKAGE_SPEC} has no emulator/DynamoDBLocal.jar`);
    try {
      await rename(extracted, CACHE_DIR);
    } catch (error) {
      // Another run got there first: its copy is complete (it arrived by rename too).
      if (!isComplete(CACHE_DIR)) throw error;
    }
  } finally {
    await rm(packDir, { recursive: true, force: true });
    await rm(extractDir, { recursive: true, force: true });
  }
  if (!isComplete(CACHE_DIR)) throw new Error(`DynamoDB Local is missing from ${CACHE_DIR}`);
  return CACHE_DIR;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** Kills the JVM and resolves once it has exited. */
  stop(): Promise<void>;
  /**
   * SIGSTOP: the JVM stops answering, but its port stays open and the kernel still accepts
   * connections on it, as a hung (not a dead) endpoint does. `resume()` (SIGCONT) undoes it.
   */
  pause(): void;
  resume(): void;
}

/** Answers true once DynamoDB Local serves a ListTables call. */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.0',
        'X-Amz-Target': 'DynamoDB_20120810.ListTables',
        // DynamoDB Local reads the access key and region from it but checks no signature.
        Authorization:
          'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{}',
      signal: AbortSignal.timeout(2_000),
    });
    const body = await response.text();
    return response.ok && body.includes('TableNames');
  } catch {
    return false;
  }
}

/**
 * False when, on Linux, the listening socket of `port` provably belongs to another process
 * than `pid` (then the ListTables answer came from someone else, e.g. another test run's
 * DynamoDB Local that took the port first). True when it is ours or when /proc cannot tell.
 */
async function ownsPort(pid: number, port: number): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/); // sl local rem st ... inode (10th)
      if (fields[3] === '0A' && fields[1]?.endsWith(hexPort) && fields[9]) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return true;
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return true;
  }
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) return true;
  }
  return false;
}

class PortTaken extends Error {}

function javaCommand(): string {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

async function startOnce(dir: string, port: number, timeoutMs: number): Promise<DynamoDbLocal> {
  const java = javaCommand();
  const args = dynamoDbLocalArgs(port);
  const endpoint = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(java, args, {
    cwd: dir,
    env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-32_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let exited = false;
  const exit = new Promise<string>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      exited = true;
      resolve(
        error.code === 'ENOENT'
          ? `\`${java}\` was not found: DynamoDB Local needs Java 17 or later ` +
              '(Debian: apt-get install openjdk-17-jre-headless)'
          : `\`${java}\` could not start: ${error.message}`,
      );
    });
    child.once('close', (code, signal) => {
      exited = true;
      resolve(`it exited (${signal ?? `code ${code}`})`);
    });
  });
  const stop = async (): Promise<void> => {
    if (exited || child.exitCode !== null || child.signalCode !== null) return;
    // In memory, there is nothing to save: SIGKILL ends it at once (SIGTERM takes ~0.35 s).
    child.kill('SIGKILL');
    await exit;
  };
  // If this process ends without calling stop(), the JVM must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  exit.then(() => process.removeListener('exit', killOnExit));

  const failure = (reason: string) =>
    new Error(
      `DynamoDB Local ${DYNAMODB_LOCAL_VERSION} did not start: ${reason}.\n` +
        `Command (in ${dir}): ${java} ${args.join(' ')}\nOutput:\n${output || '(none)'}`,
    );
  const deadline = Date.now() + timeoutMs;
  let ready = false;
  while (!ready) {
    // A failed bind does not end the JVM (Jetty's threads keep it alive): read the output.
    if (/BindException|Failed to bind/.test(output)) {
      await stop();
      throw new PortTaken(failure(`port ${port} is taken`).message);
    }
    if (/Exception in thread "main"|Error occurred during initialization/.test(output)) {
      await stop();
      throw failure('it reported an error');
    }
    if (exited) throw failure(await exit);
    if (Date.now() > deadline) {
      await stop();
      throw failure(`it did not answer ListTables on ${endpoint} within ${timeoutMs / 1000} s`);
    }
    ready = (await answers(endpoint)) && child.pid !== undefined && (await ownsPort(child.pid, port));
    if (!ready) await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, 50))]);
  }
  const signal = (name: NodeJS.Signals) => {
    if (!exited && child.exitCode === null && child.signalCode === null) child.kill(name);
  };
  return {
    endpoint,
    port,
    stop,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
  };
}

/**
 * Starts DynamoDB Local in memory, on `port` or else a free one, and resolves once it answers. Throws (with the
 * JVM's output) when Java is missing or it does not come up.
 */
export async function startDynamoDbLocal(
  options: { port?: number; timeoutMs?: number } = {},
): Promise<DynamoDbLocal> {
  const dir = await ensureDynamoDbLocalJar();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(dir, options.port ?? (await freePort()), options.timeoutMs ?? 30_000);
    } catch (error) {
      // Another process took the probed port in between: try another one.
      if (!(error instanceof PortTaken) || attempt >= 3 || options.port !== undefined) throw error;
    }
  }
}
