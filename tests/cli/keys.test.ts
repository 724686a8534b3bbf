import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { hashSecret, parseApiKey } from '../../server/src/auth/api-keys';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const ROOT = path.resolve(__dirname, '../..');
const SCRIPT = path.join(ROOT, 'scripts/keys.ts');
const KEY_FORMAT = /^tk_[A-Za-z0-9]{16}_[A-Za-z0-9_-]{43}$/;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as its own process, as an operator would: one Node process with tsx's loader
 * (`node --import tsx`), which starts faster than `npx tsx`, which spawns a second process.
 */
function runCli(file: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', SCRIPT, ...args],
      { cwd: ROOT, env: { ...process.env, TRIGGERS_SQLITE_PATH: file }, timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the keys CLI', () => {
  let t: TestApp;

  // The app's connection stays open on the file for the whole suite, as a running server's
  // would, so every CLI run below shares the file with another connection. AUTH_MODE=aws:
  // only stored keys count, so a 200 below can only come from the CLI's key.
  beforeAll(async () => {
    t = await createTestApp({ authMode: 'aws' });
  });
  afterAll(() => t.close());

  const me = (apiKey: string, status: number) =>
    checked(request(t.app).get('/v1/me').set('X-API-Key', apiKey), status);

  it('creates a key, prints it once, and the running app accepts it for its tenant', async () => {
    // Prepare
    const devKeyAnswer = await me(DEV_KEY, 401);
    expect(devKeyAnswer.status).toBe(401);

    // Act
    const created = await runCli(t.file, 'create', '--tenant', 'acme', '--source', 'billing');

    // Assess
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const lines = created.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const key = JSON.parse(lines[0] as string);
    expect(Object.keys(key).sort()).toEqual(['api_key', 'key_id', 'scopes', 'source', 'tenant_id']);
    expect(key.api_key).toMatch(KEY_FORMAT);
    expect(key.api_key.startsWith(`tk_${key.key_id}_`)).toBe(true);
    expect(key).toMatchObject({
      tenant_id: 'acme',
      source: 'billing',
      scopes: ['events:write', 'events:read', 'events:ack', 'subscriptions:manage'],
    });
    const res = await me(key.api_key, 200);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      tenant_id: 'acme',
      key_id: key.key_id,
      source: 'billing',
      scopes: ['events:write', 'events:read', 'events:ack', 'subscriptions:manage'],
    });
  });

  it('creates a key without --source, which may send events of any source (issue 15)', async () => {
    // Act
    const created = await runCli(t.file, 'create', '--tenant', 'acme');

    // Assess
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const key = JSON.parse(created.stdout);
    expect(key.source).toBeNull();
    expect((await me(key.api_key, 200)).body.source).toBeNull();
    for (const source of ['shop', 'billing']) {
      const res = await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', key.api_key)
          .send({ source, event_type: 'a.b', payload: {} }),
        201,
      );
      expect(res.status).toBe(201);
    }
  });

  it('creates a key with --source that may send only events of that source (issue 15)', async () => {
    // Prepare
    const key = JSON.parse((await runCli(t.file, 'create', '--tenant', 'acme', '--source', 'shop')).stdout);
    const send = (source: string, status: number) =>
      checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', key.api_key)
          .send({ source, event_type: 'a.b', payload: {} }),
        status,
      );

    // Act
    const own = await send('shop', 201);
    const other = await send('billing', 403);

    // Assess
    expect(own.status).toBe(201);
    expect(other.body.error).toMatchObject({
      code: 'FORBIDDEN',
      details: { allowed_source: 'shop', source: 'billing' },
    });
  });

  it('lists keys without their secret or its hash', async () => {
    // Prepare
    const created = JSON.parse(
      (await runCli(t.file, 'create', '--tenant', 'listed', '--source', 'crm', '--scopes', 'events:read'))
        .stdout,
    );
    const secret = parseApiKey(created.api_key)?.secret as string;

    // Act
    const listed = await runCli(t.file, 'list', '--tenant', 'listed');

    // Assess
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        key_id: created.key_id,
        tenant_id: 'listed',
        source: 'crm',
        scopes: ['events:read'],
        is_active: true,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        revoked_at: null,
      },
    ]);
    expect(listed.stdout).not.toContain(created.api_key);
    expect(listed.stdout).not.toContain(secret);
    expect(listed.stdout).not.toContain(hashSecret(secret));
  });

  it('creates a key with only the scopes asked for, which the app holds it to', async () => {
    // Act
    const created = await runCli(
      t.file,
      'create',
      '--tenant',
      'acme',
      '--source',
      'shop',
      '--scopes',
      'events:write',
    );

    // Assess
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key.scopes).toEqual(['events:write']);
    const inbox = await checked(request(t.app).get('/v1/inbox').set('X-API-Key', key.api_key), 403);
    expect(inbox.status).toBe(403);
    expect(inbox.body.error.code).toBe('FORBIDDEN');
  });

  it('revokes a key, which the app then refuses within 10 s, though it had cached it', async () => {
    // Prepare
    const key = JSON.parse((await runCli(t.file, 'create', '--tenant', 'acme', '--source', 'ops')).stdout);
    expect((await me(key.api_key, 200)).status).toBe(200);

    // Act
    const revoked = await runCli(t.file, 'revoke', key.key_id);
    t.clock.advance(10_000);

    // Assess
    expect(revoked).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(revoked.stdout)).toEqual({ key_id: key.key_id, revoked: true });
    const res = await me(key.api_key, 401);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
    const [record] = (await t.keys.list('acme')).filter((candidate) => candidate.keyId === key.key_id);
    expect(record).toMatchObject({ isActive: false, revokedAt: expect.any(Number) });
  });

  it('exits 1 with a message on stderr when revoking a key that does not exist', async () => {
    // Act
    const result = await runCli(t.file, 'revoke', 'NoSuchKey0000000');

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('NoSuchKey0000000');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 naming an unknown scope, without a stack trace, and creates nothing', async () => {
    // Prepare
    const before = (await t.keys.list()).length;

    // Act
    const result = await runCli(
      t.file,
      'create',
      '--tenant',
      'acme',
      '--source',
      'x',
      '--scopes',
      'events:write,events:delete',
    );

    // Assess
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('events:delete');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await t.keys.list()).toHaveLength(before);
  });

  it('exits 2 with a reason on stderr, and neither a stack trace nor a database, for bad arguments', async () => {
    // Prepare
    const untouched = path.join(path.dirname(t.file), 'untouched', 'triggers.db');
    const cases: [string, string[]][] = [
      ['an unknown command', ['rotate']],
      ['a blank --source', ['create', '--tenant', 'acme', '--source', '  ']],
      ['a blank tenant', ['create', '--tenant', ' ', '--source', 's']],
      ['a tenant over 128 characters', ['create', '--tenant', 't'.repeat(129), '--source', 's']],
      ['an option the command does not take', ['list', '--source', 's']],
      ['an unknown option', ['list', '--all']],
      ['revoke without a key id', ['revoke']],
    ];

    // Act: in parallel, as each run is mostly the start-up of a Node process.
    const results = await Promise.all(
      cases.map(async ([name, args]) => ({ name, ...(await runCli(untouched, ...args)) })),
    );

    // Assess
    for (const result of results) {
      expect(result).toMatchObject({
        name: result.name,
        code: 2,
        stdout: '',
        stderr: expect.stringMatching(/^keys: \S/),
      });
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(path.dirname(untouched))).toBe(false);
  });

  it('prints its usage for --help and when given no command', async () => {
    // Act
    const results = await Promise.all([runCli(t.file, '--help'), runCli(t.file)]);

    // Assess
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage:');
      expect(result.stdout).toContain('revoke KEY_ID');
    }
  });
});
