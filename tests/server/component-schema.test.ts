import request from 'supertest';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

// Our own validators of the contract's component schemas (server/src/component-schema.ts):
// compiled when the app is made, or, in a Lambda container made on demand
// (compileValidatorsAtStart: false), only once a request needs one. Ajv compiles a schema
// when getSchema first returns it, so the keys it is asked for tell which were compiled.
const ajvCore = require('ajv/dist/core') as {
  default: { prototype: { getSchema: (key: string) => unknown } };
};
const OURS = /^triggers\.v1#\/components\/schemas\/(\w+)$/;

describe('our own component-schema validators', () => {
  let t: TestApp | undefined;
  let asked: string[];

  beforeEach(() => {
    asked = [];
    const getSchema = ajvCore.default.prototype.getSchema;
    jest.spyOn(ajvCore.default.prototype, 'getSchema').mockImplementation(function (this: unknown, key) {
      const ours = OURS.exec(key);
      if (ours) asked.push(ours[1] as string);
      return getSchema.call(this, key);
    });
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await t?.close();
    t = undefined;
  });

  it('are compiled when the app is made, by default', async () => {
    // Act
    t = await createTestApp();

    // Assess
    expect(asked.sort()).toEqual(['CloudEvent', 'EventInput']);
  });

  it('are compiled only when a request needs one in a Lambda made on demand', async () => {
    // Act
    t = await createTestApp({ compileValidatorsAtStart: false });
    const atCreation = [...asked];
    const res = await request(t.app)
      .post('/v1/events/bulk')
      .set('X-API-Key', DEV_KEY)
      .send({ items: [{ source: 's', event_type: 't', payload: {} }] });

    // Assess
    expect(res.status).toBe(200);
    expect(atCreation).toEqual([]);
    expect(asked).toEqual(['EventInput']);
  });
});
