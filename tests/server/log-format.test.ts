import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureServerBuilt, type ServerProcess, startServer } from '../helpers/server-process';
import { DEV_KEY } from '../helpers/test-app';

/**
 * The log format of the real process (`npm start`): LOG_FORMAT=pretty prints lines a person
 * reads, json one JSON object per line. Each run sends a request that fails validation, so
 * both a start-up line and a 4xx request line are seen; SIGTERM then flushes the log.
 */
async function runServer(logFormat: 'pretty' | 'json'): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggers-log-format-'));
  let server: ServerProcess | undefined;
  try {
    server = await startServer({
      TRIGGERS_SQLITE_PATH: path.join(dir, 'triggers.db'),
      LOG_FORMAT: logFormat,
    });
    const started = server;
    const res = await fetch(`${server.baseUrl}/v1/events`, {
      method: 'POST',
      headers: { 'X-API-Key': DEV_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: 'shop' }),
    }).catch((error: unknown) => {
      throw new Error(`the request failed (${String(error)}); the server's output:\n${started.output()}`);
    });
    await res.arrayBuffer();
    expect(res.status).toBe(400);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    return server.output().split('\n').filter(Boolean);
  } finally {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('The local server log format', () => {
  beforeAll(() => ensureServerBuilt(), 120_000);

  it('prints readable lines, not JSON, with LOG_FORMAT=pretty', async () => {
    // Act
    const lines = await runServer('pretty');

    // Assess
    expect(lines.some((line) => line.includes('{"level":'))).toBe(false);
    expect(lines.find((line) => line.includes('Triggers API listening on'))).toMatch(
      /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: Triggers API listening on http:\/\/127\.0\.0\.1:\d+ \(docs at \/docs\)/,
    );
    expect(lines.find((line) => line.includes('POST /v1/events'))).toMatch(
      /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] WARN: request completed: POST \/v1\/events 400 VALIDATION_ERROR in \d+ ms \{"request_id":"req_[0-9a-f]+","tenant_id":"local","key_id":"dev"\}$/,
    );
    expect(lines.at(-1)).toMatch(/INFO: stopped$/);
  });

  it('prints one JSON object per line with LOG_FORMAT=json', async () => {
    // Act
    const lines = await runServer('json');

    // Assess
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.find((entry) => String(entry.msg).startsWith('Triggers API listening on'))).toMatchObject({
      level: 30,
      store: 'sqlite',
      auth_mode: 'local',
    });
    expect(entries.find((entry) => entry.error_code)).toMatchObject({
      level: 40,
      error_code: 'VALIDATION_ERROR',
      res: { status: 400 },
      req: { method: 'POST', url: '/v1/events' },
    });
    expect(entries.at(-1)).toMatchObject({ msg: 'stopped' });
  });
});
