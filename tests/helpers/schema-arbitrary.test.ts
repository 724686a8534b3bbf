import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { loadSpec } from '../../server/src/spec';
import {
  ALWAYS_INVALID,
  inlineRefs,
  LongString,
  type MutationKind,
  mutationArbitrary,
  Nested,
  RawJson,
  resolveRef,
  type Schema,
  schemaArbitrary,
  toJsonText,
} from './schema-arbitrary';

/**
 * The converter the spec-driven fuzz test stands on: what it calls valid must be valid for
 * Ajv (the validator the server uses), and what it calls a refusal must be refused.
 */

const SEED = 7;
const doc = loadSpec().document as unknown as Record<string, unknown> & {
  components: { schemas: Record<string, Schema> };
  paths: Record<string, Record<string, { parameters?: Array<{ schema?: Schema; $ref?: string }> }>>;
};
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);

function validatorFor(schema: Schema) {
  return ajv.compile(inlineRefs(schema, doc) as Schema);
}

/** Bulk ingest as the server reads it: each item an EventInput. */
const BULK_AS_EVENTS: Schema = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: {
    items: { type: 'array', minItems: 1, maxItems: 100, items: { $ref: '#/components/schemas/EventInput' } },
  },
};

const named: Array<[string, Schema]> = [
  ...Object.keys(doc.components.schemas).map((name): [string, Schema] => [
    name,
    { $ref: `#/components/schemas/${name}` },
  ]),
  ['BulkEventsInput with EventInput items', BULK_AS_EVENTS],
  ['the EventId path parameter', { $ref: '#/components/parameters/EventId/schema' }],
  // Shared parameters are $refs to components/parameters since the event list reuses them.
  ...((doc.paths['/v1/inbox']?.get?.parameters ?? []) as Schema[])
    .map((parameter) =>
      typeof parameter.$ref === 'string' ? (resolveRef(doc, parameter.$ref) as Schema) : parameter,
    )
    .map((parameter): [string, Schema] => [
      `inbox query parameter ${parameter.name as string}`,
      parameter.schema as Schema,
    ]),
];

const sent = (value: unknown): unknown => JSON.parse(toJsonText(value));

describe('schemaArbitrary', () => {
  it.each(named)('generates only values valid against %s', (_name, schema) => {
    // Prepare
    const validate = validatorFor(schema);

    // Act / Assess
    fc.assert(
      fc.property(schemaArbitrary(schema, doc), (value) => {
        if (!validate(sent(value))) throw new Error(ajv.errorsText(validate.errors));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('uses a refinement instead of the schema at the paths it names', () => {
    // Prepare
    const arbitrary = schemaArbitrary(BULK_AS_EVENTS, doc, {
      refine: { '/items/*/source': fc.constant('billing') },
    });

    // Act
    const values = fc.sample(arbitrary, { seed: SEED, numRuns: 20 }) as Array<{
      items: Array<{ source: string }>;
    }>;

    // Assess
    expect(values.flatMap((value) => value.items.map((item) => item.source))).toEqual(
      expect.arrayContaining(['billing']),
    );
    expect(new Set(values.flatMap((value) => value.items.map((item) => item.source)))).toEqual(
      new Set(['billing']),
    );
  });

  it('throws on a format it has no generator for, rather than generating unchecked strings', () => {
    expect(() => schemaArbitrary({ type: 'string', format: 'ipv6' }, doc)).toThrow(
      /no generator for format "ipv6"/,
    );
  });
});

describe('mutationArbitrary', () => {
  const targets: Array<[string, Schema]> = [
    ['EventInput', { $ref: '#/components/schemas/EventInput' }],
    ['BulkEventsInput with EventInput items', BULK_AS_EVENTS],
    ['BulkAckInput', { $ref: '#/components/schemas/BulkAckInput' }],
    ['Event', { $ref: '#/components/schemas/Event' }],
    ['InboxPage', { $ref: '#/components/schemas/InboxPage' }],
    ['Me', { $ref: '#/components/schemas/Me' }],
  ];
  const options = { hugeLengths: [200], deepLevels: [3, 70] };

  function mutated(schema: Schema) {
    return schemaArbitrary(schema, doc).chain((value) => {
      const mutation = mutationArbitrary(schema, value, doc, options);
      if (!mutation) throw new Error(`nothing to mutate in ${toJsonText(value)}`);
      return mutation.map((m) => ({ original: value, ...m }));
    });
  }

  it.each(targets)(
    'makes %s invalid with every mutation kind that always breaks a schema',
    (_name, schema) => {
      // Prepare
      const validate = validatorFor(schema);

      // Act / Assess
      fc.assert(
        fc.property(
          mutated(schema).filter((m) => ALWAYS_INVALID.has(m.kind)),
          (m) => {
            if (validate(sent(m.value)))
              throw new Error(`${m.kind} at ${m.path} is still valid: ${toJsonText(m.value)}`);
          },
        ),
        { seed: SEED, numRuns: 80 },
      );
    },
  );

  it.each(targets)('changes %s at the mutation path only', (_name, schema) => {
    const without = (value: unknown, path: string): string => {
      const copy = sent(value);
      const keys = path
        .split('/')
        .slice(1)
        .map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~'));
      if (keys.length === 0) return '(root)';
      let parent = copy as Record<string, unknown>;
      for (const key of keys.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
      delete parent[keys.at(-1) as string];
      return JSON.stringify(copy);
    };
    fc.assert(
      fc.property(
        // Bounds change an array's length, so only other kinds leave its siblings as they were.
        mutated(schema).filter((m) => m.kind !== 'array-bounds' && !/NaN|Infinity/.test(toJsonText(m.value))),
        (m) => {
          expect(without(m.value, m.path)).toBe(without(m.original, m.path));
        },
      ),
      { seed: SEED, numRuns: 80 },
    );
  });

  it('reaches every kind of mutation on an event body', () => {
    // Prepare
    const schema = BULK_AS_EVENTS;

    // Act
    const kinds = new Set(fc.sample(mutated(schema), { seed: SEED, numRuns: 400 }).map((m) => m.kind));

    // Assess
    const all: MutationKind[] = [
      'wrong-type',
      'missing-required',
      'oversized-string',
      'huge-string',
      'extra-field',
      'odd-unicode',
      'odd-number',
      'deep-nesting',
      'array-bounds',
    ];
    expect([...kinds].sort()).toEqual(expect.arrayContaining(all));
  });

  it('mutates parameters as strings: no missing path parameter, only Latin-1 in headers', () => {
    // Prepare
    const query: Schema = {
      type: 'object',
      properties: { limit: { type: 'integer', minimum: 1, maximum: 100 } },
      additionalProperties: false,
    };
    const path: Schema = {
      type: 'object',
      required: ['event_id'],
      properties: { event_id: { type: 'string', format: 'uuid', maxLength: 36 } },
    };
    const header: Schema = {
      type: 'object',
      properties: { 'idempotency-key': { type: 'string', maxLength: 8 } },
    };

    // Act
    const sample = (schema: Schema, value: unknown, wire: 'query' | 'path' | 'header') =>
      fc.sample(
        mutationArbitrary(schema, value, doc, { wire }) as fc.Arbitrary<{ kind: string; value: unknown }>,
        {
          seed: SEED,
          numRuns: 300,
        },
      );
    const queries = sample(query, { limit: '5' }, 'query');
    const paths = sample(path, { event_id: '0193a0b0-0000-7000-8000-000000000000' }, 'path');
    const headers = sample(header, { 'idempotency-key': 'key-1' }, 'header');

    // Assess
    expect(new Set(queries.map((m) => m.kind))).toEqual(
      new Set(['wrong-type', 'odd-unicode', 'odd-number', 'extra-field']),
    );
    expect(paths.map((m) => m.kind)).not.toContain('missing-required');
    for (const m of headers) {
      expect((m.value as Record<string, string>)['idempotency-key']).toMatch(/^[\t\x20-\x7e\xa0-\xff]*$/);
    }
  });
});

describe('toJsonText', () => {
  it('writes raw number tokens, long strings and deep nesting as JSON text', () => {
    expect(toJsonText({ a: new RawJson('1e400'), b: new LongString(3), c: new Nested(3, 'array') })).toBe(
      '{"a":1e400,"b":"xxx","c":[[[]]]}',
    );
  });
});
