import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Bundle, createAppTester, type ZObject } from 'zapier-platform-core';
import { ensureServerBuilt, killServer, type ServerProcess, startServer } from '../helpers/server-process';

/** The dev key that AUTH_MODE=local accepts, as tenant `local` with every scope. */
export const DEV_KEY = 'test-api-key-12345';

type Operation = (z: ZObject, bundle: Bundle) => unknown;

/** The parts of zapier/index.js these tests call (the integration is plain CommonJS JavaScript). */
export interface ZapierApp {
  version: string;
  platformVersion: string;
  authentication: { test: Operation; connectionLabel: Operation };
  triggers: {
    new_event: { operation: { perform: Operation } };
    new_event_instant: {
      operation: {
        perform: Operation;
        performList: Operation;
        performSubscribe: Operation;
        performUnsubscribe: Operation;
      };
    };
  };
  creates: { send_event: { operation: { perform: Operation } } };
}

export const App = require('../../zapier') as ZapierApp;

export type AppTester = (operation: Operation, bundle?: Record<string, unknown>) => Promise<unknown>;

/**
 * The platform's runner patches http.request and https.request for its request logging, for
 * the rest of the process, with a two-argument version that drops the options of a
 * `request(url, options)` call. Jest runs other test files in the same worker afterwards:
 * they get Node's own functions back once the Zapier tests are done.
 */
const original = { http: http.request, https: https.request };
afterAll(() => {
  for (const [module, request] of [
    [http, original.http],
    [https, original.https],
  ] as const) {
    module.request = request as typeof module.request;
    delete (module as { patchedByZapier?: boolean }).patchedByZapier;
  }
});

/** The platform's own runner: runs an operation as Zapier does, with its output checks. */
export function appTester(): AppTester {
  const tester = createAppTester(App);
  return (operation, bundle) => tester(operation, bundle as never);
}

/** What an event looks like on the wire (GET /v1/events, the webhook body). */
export interface WireEvent {
  id?: string;
  event_id: string;
  source: string;
  event_type: string;
  payload: Record<string, unknown>;
  status: string;
  created_at: string;
  metadata: Record<string, unknown>;
}

/** The fields of a z.errors.Error: its message is JSON of {message, code, status}. */
export function appErrorOf(error: unknown): { name: string; message: string; code: string; status: number } {
  if (!(error instanceof Error)) throw new Error(`expected an Error, got ${String(error)}`);
  const parsed = JSON.parse(error.message) as { message: string; code: string; status: number };
  return { name: error.name, ...parsed };
}

/** Runs `action`, expecting it to reject; resolves with what it rejected with. */
export async function rejectionOf(action: Promise<unknown>): Promise<unknown> {
  try {
    await action;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but it resolved');
}

/** A source name no other test uses, so list filters scope each test to its own events. */
export function uniqueSource(what: string): string {
  return `zapier-${what}-${randomUUID().slice(0, 8)}`;
}

/** The real server process (`node server/dist/local.js`) on a fresh SQLite file, AUTH_MODE=local. */
export async function startApi(env: Record<string, string> = {}): Promise<{
  server: ServerProcess;
  stop(): Promise<void>;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}> {
  ensureServerBuilt();
  const dir = mkdtempSync(path.join(tmpdir(), 'triggers-zapier-'));
  const server = await startServer({
    AUTH_MODE: 'local',
    TRIGGERS_SQLITE_PATH: path.join(dir, 'triggers.db'),
    LOG_LEVEL: 'warn',
    ...env,
  });
  return {
    server,
    async stop() {
      await killServer(server);
      rmSync(dir, { recursive: true, force: true });
    },
    api: (method, apiPath, body, headers = {}) =>
      fetch(`${server.baseUrl}${apiPath}`, {
        method,
        headers: {
          'X-API-Key': DEV_KEY,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
  };
}

/** The first item, which the test has just waited for. */
export function firstOf<T>(items: T[]): T {
  const [item] = items;
  if (item === undefined) throw new Error('expected at least one item');
  return item;
}
