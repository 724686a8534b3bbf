import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';

/**
 * HTTP hygiene of the local server process itself (its sockets, not its store): timeouts,
 * header size, answers to bytes that are not HTTP. The app-level checks are in
 * tests/api/http-hygiene.test.ts.
 */

const JSON_TYPE = 'application/json; charset=utf-8';

/** Raw socket: writes `chunks`, then collects what the server sends until it closes the connection. */
function rawExchange(port: number, chunks: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      received += data;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
    });
  });
}

function parseRaw(raw: string): { status: number; headers: string; body: unknown } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), headers: head, body: body ? JSON.parse(body) : undefined };
}

describe('The local server process, over real sockets', () => {
  let dir: string;
  let server: ServerProcess;
  let port: number;
  // Generous: the build (when server/ changed) and the start-up, on a loaded 2-core machine.
  beforeAll(async () => {
    ensureServerBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-hygiene-'));
    server = await startServer({
      TRIGGERS_SQLITE_PATH: path.join(dir, 'triggers.db'),
      LOG_LEVEL: 'warn',
      TRIGGERS_HEADERS_TIMEOUT_MS: '1000',
      TRIGGERS_REQUEST_TIMEOUT_MS: '2000',
      TRIGGERS_KEEP_ALIVE_TIMEOUT_MS: '2000',
      TRIGGERS_MAX_HEADER_BYTES: '8192',
    });
    port = Number(new URL(server.baseUrl).port);
  }, 120_000);
  afterAll(async () => {
    if (server) await killServer(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 431 in the envelope for headers over TRIGGERS_MAX_HEADER_BYTES, and 200 under it', async () => {
    // Act: 10 KB would pass Node's default of 16 KiB; the configured 8 KiB refuses it.
    const over = await fetch(`${server.baseUrl}/v1/health`, { headers: { 'X-Padding': 'a'.repeat(10_000) } });
    const under = await fetch(`${server.baseUrl}/v1/health`, { headers: { 'X-Padding': 'a'.repeat(4_000) } });

    // Assess
    expect([over.status, under.status]).toEqual([431, 200]);
    expect(over.headers.get('content-type')).toBe(JSON_TYPE);
    const body = (await over.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { limit_bytes: 8192 } });
    expect(body.error.request_id).toBe(over.headers.get('x-request-id'));
    await under.arrayBuffer();
  });

  it('answers 408 in the envelope and closes a connection whose headers stall past the headers timeout', async () => {
    // Act: the headers never end.
    const raw = await rawExchange(port, ['GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n']);

    // Assess
    const answer = parseRaw(raw);
    expect(answer.status).toBe(408);
    expect(answer.headers).toMatch(/^Content-Type: application\/json; charset=utf-8$/m);
    expect(answer.body).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
  });

  it('answers 408 and closes a connection whose body stalls past the request timeout', async () => {
    // Act: the headers promise 100 bytes of body; 10 come.
    const raw = await rawExchange(port, [
      'POST /v1/events HTTP/1.1\r\nHost: localhost\r\nX-API-Key: test-api-key-12345\r\n' +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"source":',
    ]);

    // Assess
    expect(parseRaw(raw).status).toBe(408);
  });

  it('announces the configured keep-alive timeout and closes an idle connection itself', async () => {
    // Act: one complete request on a kept-alive connection, then silence.
    const raw = await rawExchange(port, [
      'GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n',
    ]);

    // Assess: the server, not the client, ended the connection after answering.
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(raw).toMatch(/^Keep-Alive: timeout=2$/m);
  });

  it('answers bytes that are not HTTP with 400 in the envelope', async () => {
    const answer = parseRaw(await rawExchange(port, ['HELLO THERE\r\n\r\n']));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', details: { errors: [{ path: '/' }] } },
    });
  });

  it('sends the security headers from the real process too', async () => {
    const res = await fetch(`${server.baseUrl}/v1/health`);
    await res.arrayBuffer();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });
});
