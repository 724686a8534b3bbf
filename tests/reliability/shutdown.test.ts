import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureServerBuilt, type ServerProcess, startServer } from '../helpers/server-process';

describe('Graceful shutdown', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(() => {
    ensureServerBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'triggers-shutdown-'));
  });
  afterAll(() => {
    server?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes an in-flight request after SIGTERM, refuses new connections, and exits 0', async () => {
    // Prepare: a request whose body is only half sent when SIGTERM arrives
    server = await startServer({ TRIGGERS_SQLITE_PATH: path.join(dir, 'triggers.db'), LOG_LEVEL: 'info' });
    const body = JSON.stringify({ source: 'billing', event_type: 'order.created', payload: { n: 1 } });
    const { port } = new URL(server.baseUrl);
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/events',
          headers: {
            'X-API-Key': 'test-api-key-12345',
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 20));
      setTimeout(() => {
        // Act: SIGTERM while the request is in flight, then the rest of its body
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(20)), 300);
      }, 200);
    });

    // Assess
    const result = await answer;
    expect(result.status).toBe(201);
    expect(JSON.parse(result.body).status).toBe('pending');
    await expect(fetch(`${server.baseUrl}/v1/health`)).rejects.toThrow();
    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/shutting down/);
    expect(server.output()).toMatch(/"msg":"stopped"/);
  });

  it('answers a waiting long-poll lease with events: [] at SIGTERM instead of cutting it, and exits 0', async () => {
    // Prepare: a lease that would wait 20 s for an event that never comes
    server = await startServer({ TRIGGERS_SQLITE_PATH: path.join(dir, 'waiting.db'), LOG_LEVEL: 'info' });
    const waiting = fetch(`${server.baseUrl}/v1/inbox/lease`, {
      method: 'POST',
      headers: { 'X-API-Key': 'test-api-key-12345', 'Content-Type': 'application/json' },
      body: JSON.stringify({ wait: 20 }),
    });
    // Time for the request to reach its wait; answering early would not pass for waiting either:
    // without the shutdown signal it holds the server for the 10 s grace, then is cut.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = performance.now();

    // Act
    server.child.kill('SIGTERM');

    // Assess
    const res = await waiting;
    const body = (await res.json()) as { events: unknown[] };
    expect([res.status, body.events]).toEqual([200, []]);
    expect(await server.exited).toBe(0);
    expect(performance.now() - started).toBeLessThan(8_000);
  });
});
