import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

// What patches/ changes in express-openapi-validator, checked on the installed package and
// through the real app: a patch that stopped applying, or a dependency bump that lost one,
// fails here and not only as a slower start (see patches/README.md).

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const patches = readdirSync(path.join(root, 'patches')).filter((name) => name.endsWith('.patch'));

// The library's own modules, as its compiled code reaches them (`(0, util_1.useAjvCache)(…)`
// reads the export at every call, so a spy sees every call).
const validatorUtil = require('express-openapi-validator/dist/middlewares/util') as {
  useAjvCache: (ajv: unknown, schema: Record<string, unknown>, key: string) => unknown;
};
const metaSchema = require('express-openapi-validator/dist/framework/openapi.schema.validator') as {
  OpenAPISchemaValidator: new (...args: unknown[]) => unknown;
};
const pathToRegexp = require(
  require.resolve('path-to-regexp', { paths: [require.resolve('express-openapi-validator')] }),
) as { pathToRegexp: (...args: unknown[]) => unknown };

describe('patches to dependencies', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    jest.restoreAllMocks();
    await t?.close();
    t = undefined;
  });

  it('has at least one patch, each applied to the installed package', async () => {
    // Prepare
    expect(patches.length).toBeGreaterThan(0);

    for (const patch of patches) {
      // Act: a patch whose reverse applies cleanly is exactly what the package now holds.
      const check = run('git', ['apply', '--check', '--reverse', path.join('patches', patch)], { cwd: root });

      // Assess
      await expect(check).resolves.toBeDefined();
    }
  });

  it('never builds the OpenAPI meta-schema validator, which validateApiSpec: false does not use', async () => {
    // Prepare
    const built = jest.spyOn(metaSchema, 'OpenAPISchemaValidator');
    t = await createTestApp();

    // Act
    const res = await request(t.app).get('/v1/me').set('X-API-Key', DEV_KEY);

    // Assess
    expect(res.status).toBe(200);
    expect(built).not.toHaveBeenCalled();
  });

  it('compiles each route path into a regexp once, not again on every request', async () => {
    // Prepare
    t = await createTestApp();
    const app = t.app;
    const send = () => request(app).get('/v1/inbox?limit=1').set('X-API-Key', DEV_KEY);
    const compiled = jest.spyOn(pathToRegexp, 'pathToRegexp');
    expect((await send()).status).toBe(200);
    const firstRequest = compiled.mock.calls.length;

    // Act
    for (let i = 0; i < 5; i++) expect((await send()).status).toBe(200);

    // Assess
    expect(firstRequest).toBeGreaterThan(0);
    expect(compiled.mock.calls.length).toBe(firstRequest);
  });

  it('shares one compiled validator between roots of the same schema, none carrying the paths', async () => {
    // Prepare
    const original = validatorUtil.useAjvCache;
    const roots: { key: string; schema: Record<string, unknown>; validator: unknown }[] = [];
    jest.spyOn(validatorUtil, 'useAjvCache').mockImplementation((ajv, schema, key) => {
      const validator = original(ajv, schema, key);
      roots.push({ key, schema, validator });
      return validator;
    });
    t = await createTestApp();

    // Act: two operations, each documenting the same Error answer for 401 (their validators
    // are built, every status at once, when each first answers).
    const me = await request(t.app).get('/v1/me').set('X-API-Key', DEV_KEY);
    const inbox = await request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY);

    // Assess
    expect([me.status, inbox.status]).toEqual([200, 200]);
    const unauthorized = roots.filter((root) => root.key.endsWith('-401-application/json'));
    expect(new Set(unauthorized.map((root) => root.key)).size).toBe(2);
    expect(new Set(unauthorized.map((root) => root.validator)).size).toBe(1);
    expect(roots.length).toBeGreaterThan(2);
    for (const root of roots) expect(root.schema).not.toHaveProperty('paths');
  });
});
