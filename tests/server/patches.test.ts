import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import request from 'supertest';
import { loadSpec } from '../../server/src/spec';
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
const ajvCore = require(
  require.resolve('ajv/dist/core', { paths: [require.resolve('express-openapi-validator')] }),
) as { default: { prototype: { getSchema: (key: string) => unknown } } };
const preprocessor = require('express-openapi-validator/dist/middlewares/parsers/schema.preprocessor') as {
  SchemaPreprocessor: { prototype: { resolveSchema: (schema: unknown) => unknown } };
};
const refParser = require(
  require.resolve('@apidevtools/json-schema-ref-parser', {
    paths: [require.resolve('express-openapi-validator')],
  }),
) as { bundle: (document: object) => Promise<object> };
const parameterMutator =
  require('express-openapi-validator/dist/middlewares/parsers/req.parameter.mutator') as {
    rawQueryOf: (originalUrl: string) => string | null;
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

  it('never runs $RefParser.bundle over the contract, which has no external reference to bundle', async () => {
    // Prepare
    const bundled = jest.spyOn(refParser, 'bundle');
    t = await createTestApp();

    // Act: the first request makes the validator load the contract.
    const res = await request(t.app).get('/v1/me').set('X-API-Key', DEV_KEY);

    // Assess
    expect(res.status).toBe(200);
    expect(bundled).not.toHaveBeenCalled();
  });

  it('loses nothing by it: bundling would only point references to a schema at the end of its chain', async () => {
    // Prepare: our contract has schema aliases (InboxPage is a $ref to EventPage); the bundler
    // points references to an alias at what it names, which Ajv resolves to the same schema.
    // Only schema chains are followed here: a chain of another kind would show as a difference.
    const document = loadSpec().document;
    const endOfChain = (ref: string): string => {
      if (!ref.startsWith('#/components/schemas/')) return ref;
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], document) as {
        $ref?: string;
      };
      return Object.keys(target).length === 1 && typeof target.$ref === 'string'
        ? endOfChain(target.$ref)
        : ref;
    };
    const followed = (value: unknown): unknown =>
      JSON.parse(JSON.stringify(value), (key, ref) => (key === '$ref' ? endOfChain(ref) : ref));

    // Act
    const bundled = await refParser.bundle(structuredClone(document));

    // Assess
    expect(followed(bundled)).toEqual(followed(document));
  });

  it("cuts a URL's raw query as url.parse did, on any URL url.parse reads", () => {
    // The reference: Node's own url.parse, which the patch replaced (it warns DEP0169 once here).
    const { parse } = require('node:url') as typeof import('node:url');
    const special = [...'/?#@\\:=&%\'"<>^`{|}[]!$()*+,;. \t\n\r\v\f\u0000\u001f\u00a0\ufeff\u2028é'];
    const piece = fc.oneof(
      fc.constantFrom(...special),
      fc.string({ maxLength: 3 }),
      fc.constant('\u00a0'.repeat(100)),
    );
    const start = fc.constantFrom(
      ...['', '/', '//', '///', '/v1/inbox', 'http://h', 'https://u@h:1', ' ', '\t', '\\', '@'],
      ...['javascript:', ' JavaScript:', '\tjavascript:', '\u00a0\ufeff/', ' '.repeat(200)],
    );
    const urls = fc
      .tuple(start, fc.array(piece, { maxLength: 10 }))
      .map(([head, rest]) => head + rest.join(''));

    fc.assert(
      fc.property(urls, (url) => {
        let expected: string | null;
        try {
          expected = parse(url).query as string | null;
        } catch {
          return; // url.parse refuses it (a malformed host): no request reaches the validator with it.
        }
        expect(parameterMutator.rawQueryOf(url)).toBe(expected);
      }),
      { numRuns: 20_000 },
    );
  });

  it('still bundles a contract with an external reference, or a chain the validator would not follow', async () => {
    // Prepare: the validator looks parameters, responses and headers up one level only.
    const { OpenAPIFramework } = require('express-openapi-validator/dist/framework') as {
      OpenAPIFramework: new (args: object) => { loadSpec: (document: object) => Promise<object> };
    };
    const framework = new OpenAPIFramework({});
    const document = loadSpec().document as unknown as {
      components: Record<string, Record<string, unknown>>;
    };
    const aliased = structuredClone(document);
    aliased.components.parameters = {
      ...aliased.components.parameters,
      Alias: { $ref: `#/components/parameters/${Object.keys(document.components.parameters ?? {})[0]}` },
    };
    const external = structuredClone(document);
    external.components.schemas = {
      ...external.components.schemas,
      Elsewhere: { $ref: 'other.yaml#/Thing' },
    };
    const bundled = jest.spyOn(refParser, 'bundle').mockImplementation(async (value) => value);

    // Act
    await framework.loadSpec(structuredClone(document));
    const ours = bundled.mock.calls.length;
    await framework.loadSpec(aliased);
    await framework.loadSpec(external);

    // Assess
    expect(ours).toBe(0);
    expect(bundled.mock.calls.map(([value]) => value)).toEqual([aliased, external]);
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

  it('looks up the component schemas it resolves while preprocessing the contract, without compiling them', async () => {
    // Prepare: Ajv's getSchema compiles what it returns. Record what it is asked for from inside
    // the preprocessor's resolveSchema, which asked it for every component schema before.
    const resolveSchema = preprocessor.SchemaPreprocessor.prototype.resolveSchema;
    let resolving = 0;
    let resolved = 0;
    jest.spyOn(preprocessor.SchemaPreprocessor.prototype, 'resolveSchema').mockImplementation(function (
      this: unknown,
      schema,
    ) {
      resolving += 1;
      try {
        const found = resolveSchema.call(this, schema);
        if ((schema as { $ref?: string } | null)?.$ref?.startsWith('#/components/schemas/') && found)
          resolved += 1;
        return found;
      } finally {
        resolving -= 1;
      }
    });
    const compiledWhileResolving: string[] = [];
    const getSchema = ajvCore.default.prototype.getSchema;
    jest.spyOn(ajvCore.default.prototype, 'getSchema').mockImplementation(function (this: unknown, key) {
      if (resolving > 0) compiledWhileResolving.push(key);
      return getSchema.call(this, key);
    });
    t = await createTestApp();

    // Act: the first request makes the validator preprocess the contract.
    const res = await request(t.app).get('/v1/inbox').set('X-API-Key', DEV_KEY);

    // Assess
    expect(res.status).toBe(200);
    expect(resolved).toBeGreaterThan(0);
    expect(compiledWhileResolving.filter((key) => key.startsWith('#/components/schemas/'))).toEqual([]);
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
