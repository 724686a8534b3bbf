import fc from 'fast-check';

/**
 * fast-check arbitraries derived from the contract's own JSON Schemas (OpenAPI 3.1 is JSON
 * Schema 2020-12), and one-site mutations of the values they generate. The fuzz tests build
 * their requests from these, so a field added to the contract is fuzzed without a test edit.
 *
 * Supported: local $ref, allOf (merged, `unevaluatedProperties: false` closes the result),
 * oneOf/anyOf, type (and type arrays such as ["string", "null"]), const, enum, properties,
 * required, additionalProperties, maxProperties, items, minItems, maxItems, uniqueItems,
 * minLength, maxLength (in code points, as Ajv counts), pattern, format (uuid, date-time,
 * date, uri, email), minimum, maximum, exclusiveMinimum, exclusiveMaximum. An unknown format
 * throws: a generator that silently ignored it would make invalid "valid" values.
 */

export type Schema = Record<string, unknown>;
export type SchemaDocument = Record<string, unknown>;

/** An optional property a refinement or the generator left out. */
export const ABSENT: unique symbol = Symbol('absent');

/** A number token JavaScript cannot produce (1e400, NaN...): written as is into the JSON text. */
export class RawJson {
  constructor(readonly text: string) {}
  [fc.toStringMethod](): string {
    return `raw(${this.text})`;
  }
}

/** A long string, built only when serialized: counterexamples stay readable. */
export class LongString {
  constructor(
    readonly length: number,
    readonly char = 'x',
  ) {}
  toJSON(): string {
    return this.char.repeat(this.length);
  }
  [fc.toStringMethod](): string {
    return `'${this.char}'.repeat(${this.length})`;
  }
}

/** `depth` levels of objects ({"a":{"a":...}}) or arrays ([[...]]), written as text when serialized. */
export class Nested {
  constructor(
    readonly depth: number,
    readonly kind: 'object' | 'array',
  ) {}
  /** JSON text, built without recursion (JSON.stringify of a few thousand levels overflows the stack). */
  get text(): string {
    const [open, leaf, close] = this.kind === 'object' ? ['{"a":', '{}', '}'] : ['[', '[]', ']'];
    return `${open.repeat(this.depth - 1)}${leaf}${close.repeat(this.depth - 1)}`;
  }
  [fc.toStringMethod](): string {
    return `nested(${this.depth} ${this.kind}s)`;
  }
}

/** The JSON text of a value that may hold RawJson, LongString or Nested parts. */
export function toJsonText(value: unknown): string {
  const raw: string[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (!(item instanceof RawJson || item instanceof Nested)) return item;
    raw.push(item.text);
    return `@@raw@@${raw.length - 1}@@`;
  });
  return raw.length === 0
    ? text
    : text.replace(/"@@raw@@(\d+)@@"/g, (_m, i: string) => raw[Number(i)] as string);
}

// ---------------------------------------------------------------------------------------
// Schemas: $ref, allOf, oneOf
// ---------------------------------------------------------------------------------------

function isSchema(value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

export function resolveRef(doc: SchemaDocument, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = isSchema(node) ? node[key] : undefined;
  }
  if (!isSchema(node)) throw new Error(`no schema at ${ref}`);
  return node;
}

/** The schema with its $refs followed and its allOf merged into one object schema. */
export function flatten(schema: Schema, doc: SchemaDocument): Schema {
  let current = schema;
  for (let hops = 0; typeof current.$ref === 'string'; hops += 1) {
    if (hops > 32) throw new Error(`$ref loop at ${current.$ref}`);
    const { $ref, ...siblings } = current;
    current = { ...resolveRef(doc, $ref as string), ...siblings };
  }
  if (!Array.isArray(current.allOf)) return current;
  const { allOf, unevaluatedProperties, ...rest } = current;
  let merged: Schema = rest;
  for (const part of allOf as Schema[]) {
    const flat = flatten(part, doc);
    merged = {
      ...merged,
      ...flat,
      properties: { ...(merged.properties as Schema), ...(flat.properties as Schema) },
      required: [...((merged.required as string[]) ?? []), ...((flat.required as string[]) ?? [])],
    };
  }
  // What allOf's parts do not evaluate is refused: for generation, a closed object.
  if (unevaluatedProperties === false) merged.additionalProperties = false;
  return merged;
}

/** A copy of the schema with every $ref replaced by its target (the contract has no cycles). */
export function inlineRefs(schema: unknown, doc: SchemaDocument, depth = 0): unknown {
  if (depth > 64) throw new Error('inlineRefs: too deep (a $ref cycle?)');
  if (Array.isArray(schema)) return schema.map((item) => inlineRefs(item, doc, depth + 1));
  if (!isSchema(schema)) return schema;
  if (typeof schema.$ref === 'string') {
    const { $ref, ...siblings } = schema;
    return inlineRefs({ ...resolveRef(doc, $ref as string), ...siblings }, doc, depth + 1);
  }
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, inlineRefs(value, doc, depth + 1)]),
  );
}

type JsonType = 'null' | 'boolean' | 'integer' | 'number' | 'string' | 'array' | 'object';

export function jsonTypeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'object') return 'object';
  return typeof value as JsonType;
}

/** The JSON types a schema admits; empty when it admits any. */
export function typesOf(schema: Schema, doc: SchemaDocument): JsonType[] {
  const s = flatten(schema, doc);
  if (typeof s.type === 'string') return [s.type as JsonType];
  if (Array.isArray(s.type)) return s.type as JsonType[];
  if ('const' in s) return [jsonTypeOf(s.const)];
  if (Array.isArray(s.enum)) return [...new Set(s.enum.map(jsonTypeOf))];
  const branches = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
  if (branches) return [...new Set(branches.flatMap((branch) => typesOf(branch, doc)))];
  if (s.properties || s.additionalProperties !== undefined) return ['object'];
  if (s.items) return ['array'];
  return [];
}

function admits(types: JsonType[], type: JsonType): boolean {
  return types.length === 0 || types.includes(type) || (type === 'integer' && types.includes('number'));
}

/** The oneOf/anyOf branch (flattened) a value of this type belongs to, or the schema itself. */
function branchFor(schema: Schema, value: unknown, doc: SchemaDocument): Schema {
  const s = flatten(schema, doc);
  const branches = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
  if (!branches) return s;
  const type = jsonTypeOf(value);
  const branch = branches.find((candidate) => admits(typesOf(candidate, doc), type));
  return branch ? flatten(branch, doc) : s;
}

// ---------------------------------------------------------------------------------------
// Valid values
// ---------------------------------------------------------------------------------------

/**
 * Single code points, mostly printable ASCII, with realistic non-ASCII text and the odd
 * characters valid Unicode allows (NUL, bidi marks, BOM, combining marks, emoji, noncharacters).
 * Never a lone surrogate: that is a mutation, not a valid string.
 */
export const CODE_POINT: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 24,
    arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }).filter((c) => c >= ' '),
  },
  { weight: 3, arbitrary: fc.constantFrom('é', 'ß', 'ø', 'Ж', 'ع', 'א', '日', '本', '€', '\u00a0') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '\u0000',
      '\u200f',
      '\u202e',
      '\ufeff',
      '\u0301',
      '\u{1F600}',
      '\u{1F468}',
      '\u200d',
      '\uffff',
      '\u2028',
      '\n',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

/** Typical strings stay short; long ones come from the "at the limit" branch. */
const TYPICAL_LENGTH = 24;
const ANY_JSON = fc.jsonValue({ maxDepth: 2, stringUnit: CODE_POINT });
const EXTRA_KEY = fc.string({ unit: CODE_POINT, maxLength: 12 });

export interface ArbitraryOptions {
  /**
   * Arbitraries used instead of the schema's own at these instance paths ("/source",
   * "/items/*" where * is any array item): realistic values (known ids, a vocabulary) that
   * the schema alone would rarely produce. May produce ABSENT for an optional property.
   */
  refine?: Record<string, fc.Arbitrary<unknown>>;
  /** Arrays longer than this are not generated (the schema's maxItems is used when smaller). */
  maxItems?: number;
  /** Properties beyond the declared ones, where additionalProperties allows them. */
  maxExtraProperties?: number;
}

const codePoints = (text: string): number => [...text].length;

function formatArbitrary(format: string): fc.Arbitrary<string> {
  const dates = fc.date({
    min: new Date('1970-01-01T00:00:00.000Z'),
    max: new Date('2100-01-01T00:00:00.000Z'),
    noInvalidDate: true,
  });
  switch (format) {
    case 'uuid':
      return fc.uuid();
    case 'date-time':
      return fc.oneof(
        { weight: 3, arbitrary: dates.map((date) => date.toISOString()) },
        { weight: 1, arbitrary: dates.map((date) => date.toISOString().replace(/\.\d{3}Z$/, '+00:00')) },
      );
    case 'date':
      return dates.map((date) => date.toISOString().slice(0, 10));
    case 'uri':
      return fc.webUrl();
    case 'email':
      return fc.emailAddress();
    default:
      throw new Error(`schema-arbitrary: no generator for format "${format}"`);
  }
}

function textArbitrary(minLength: number, maxLength: number | undefined): fc.Arbitrary<string> {
  const typical = fc.string({
    unit: CODE_POINT,
    minLength,
    maxLength: Math.max(minLength, Math.min(maxLength ?? TYPICAL_LENGTH, TYPICAL_LENGTH)),
  });
  if (maxLength === undefined || maxLength <= TYPICAL_LENGTH || maxLength > 4096) return typical;
  const atLimit = fc.string({ unit: CODE_POINT, minLength: maxLength, maxLength });
  return fc.oneof({ weight: 9, arbitrary: typical }, { weight: 1, arbitrary: atLimit });
}

function stringArbitrary(s: Schema): fc.Arbitrary<string> {
  const minLength = num(s.minLength) ?? 0;
  const maxLength = num(s.maxLength);
  const pattern = typeof s.pattern === 'string' ? new RegExp(s.pattern, 'u') : undefined;
  let base: fc.Arbitrary<string>;
  if (typeof s.format === 'string') base = formatArbitrary(s.format);
  else if (pattern) {
    try {
      base = fc.stringMatching(pattern);
    } catch {
      // fast-check cannot invert every regex (lookaheads): generate text, keep what matches.
      base = textArbitrary(minLength, maxLength);
    }
  } else base = textArbitrary(minLength, maxLength);
  return base.filter((text) => {
    const length = codePoints(text);
    return (
      length >= minLength &&
      (maxLength === undefined || length <= maxLength) &&
      (!pattern || pattern.test(text))
    );
  });
}

function integerArbitrary(s: Schema): fc.Arbitrary<number> {
  const exclusiveMin = num(s.exclusiveMinimum);
  const exclusiveMax = num(s.exclusiveMaximum);
  const min = num(s.minimum) ?? (exclusiveMin === undefined ? -(2 ** 31) : Math.floor(exclusiveMin) + 1);
  const max = num(s.maximum) ?? (exclusiveMax === undefined ? 2 ** 31 - 1 : Math.ceil(exclusiveMax) - 1);
  return fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
}

function numberArbitrary(s: Schema): fc.Arbitrary<number> {
  const exclusiveMin = num(s.exclusiveMinimum);
  const exclusiveMax = num(s.exclusiveMaximum);
  return fc.double({
    min: num(s.minimum) ?? exclusiveMin,
    max: num(s.maximum) ?? exclusiveMax,
    minExcluded: exclusiveMin !== undefined,
    maxExcluded: exclusiveMax !== undefined,
    noNaN: true,
    noDefaultInfinity: true,
  });
}

function matches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const have = path.split('/');
  return want.length === have.length && want.every((part, i) => part === '*' || part === have[i]);
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** An arbitrary of values valid against `schema` (resolved in `doc`, the OpenAPI document). */
export function schemaArbitrary(
  schema: Schema,
  doc: SchemaDocument,
  options: ArbitraryOptions = {},
  path = '',
): fc.Arbitrary<unknown> {
  const refined = Object.entries(options.refine ?? {}).find(([pattern]) => matches(pattern, path));
  if (refined) return refined[1];
  const s = flatten(schema, doc);
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const branches = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
  if (branches) return fc.oneof(...branches.map((branch) => schemaArbitrary(branch, doc, options, path)));
  const types = typesOf(s, doc);
  if (types.length === 0) return ANY_JSON;
  if (types.length > 1) {
    return fc.oneof(...types.map((type) => schemaArbitrary({ ...s, type }, doc, options, path)));
  }
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return integerArbitrary(s);
    case 'number':
      return numberArbitrary(s);
    case 'string':
      return stringArbitrary(s);
    case 'array':
      return arrayArbitrary(s, doc, options, path);
    default:
      return objectArbitrary(s, doc, options, path);
  }
}

function arrayArbitrary(
  s: Schema,
  doc: SchemaDocument,
  options: ArbitraryOptions,
  path: string,
): fc.Arbitrary<unknown[]> {
  const items = isSchema(s.items) ? schemaArbitrary(s.items, doc, options, `${path}/*`) : ANY_JSON;
  const minLength = num(s.minItems) ?? 0;
  const maxLength = Math.max(
    minLength,
    Math.min(num(s.maxItems) ?? Number.POSITIVE_INFINITY, options.maxItems ?? 4),
  );
  return s.uniqueItems === true
    ? fc.uniqueArray(items, { minLength, maxLength, selector: (item) => toJsonText(item) })
    : fc.array(items, { minLength, maxLength });
}

function objectArbitrary(
  s: Schema,
  doc: SchemaDocument,
  options: ArbitraryOptions,
  path: string,
): fc.Arbitrary<Record<string, unknown>> {
  const properties = (s.properties ?? {}) as Record<string, Schema>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  const declared: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, sub] of Object.entries(properties)) {
    const value = schemaArbitrary(sub, doc, options, `${path}/${escapePointer(name)}`);
    declared[name] = required.has(name) ? value : fc.option(value, { nil: ABSENT, freq: 3 });
  }
  const record = fc
    .record(declared)
    .map((value) => Object.fromEntries(Object.entries(value).filter(([, item]) => item !== ABSENT)));
  const additional = s.additionalProperties;
  // Unspecified additionalProperties admits anything, but a value with only the declared ones is valid too.
  if (additional === undefined || additional === false) return record;
  const extraValue = isSchema(additional) ? schemaArbitrary(additional, doc, options, `${path}/*`) : ANY_JSON;
  const maxProperties = num(s.maxProperties) ?? Number.POSITIVE_INFINITY;
  const extraKey = EXTRA_KEY.filter((key) => !Object.hasOwn(properties, key));
  return record.chain((base) => {
    const room = maxProperties - Object.keys(base).length;
    const few = fc.dictionary(extraKey, extraValue, {
      maxKeys: Math.max(0, Math.min(room, options.maxExtraProperties ?? 3)),
    });
    const extras =
      Number.isFinite(room) && room > 0
        ? fc.oneof(
            { weight: 9, arbitrary: few },
            // Exactly maxProperties: the limit itself is valid.
            {
              weight: 1,
              arbitrary: fc.constant(
                Object.fromEntries(Array.from({ length: room }, (_, i) => [`extra_${i}`, i])),
              ),
            },
          )
        : few;
    return extras.map((extra) => ({ ...base, ...extra }));
  });
}

// ---------------------------------------------------------------------------------------
// Mutations: one site of a valid value changed
// ---------------------------------------------------------------------------------------

export type MutationKind =
  | 'wrong-type'
  | 'missing-required'
  | 'oversized-string'
  | 'huge-string'
  | 'extra-field'
  | 'odd-unicode'
  | 'odd-number'
  | 'deep-nesting'
  | 'out-of-enum'
  | 'bad-format'
  | 'array-bounds';

/**
 * Kinds whose result the schema always refuses. The others may still be valid (an emoji in
 * a free-text field, a huge number in a payload): the tests ask Ajv, as the server does.
 */
export const ALWAYS_INVALID: ReadonlySet<MutationKind> = new Set([
  'wrong-type',
  'missing-required',
  'oversized-string',
  'extra-field',
  'out-of-enum',
  'array-bounds',
]);

export interface Mutation {
  kind: MutationKind;
  /** JSON pointer of the changed (added, removed) site. */
  path: string;
  /** The whole value, mutated. */
  value: unknown;
}

/**
 * How the value travels: `json` is a request body; the others are a set of parameters, an
 * object of strings (a string array for a repeated query parameter). Headers can carry only
 * Latin-1 and are trimmed; a required path parameter cannot go missing without changing the path.
 */
export type Wire = 'json' | 'query' | 'header' | 'path';

export interface MutationOptions {
  wire?: Wire;
  /** json only: lengths of the huge strings to try (e.g. just under and just over the body limit). */
  hugeLengths?: number[];
  /** json only: nesting depths to try (e.g. around the server's depth limits). */
  deepLevels?: number[];
}

/** Characters that are not plain text: lone surrogates, NUL, bidi overrides, BOM, combining marks... */
export const ODD_CHARS = [
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '\u0000',
  '\u200f',
  '\u202e',
  '\ufeff',
  '\u0301',
  '\u{1F600}',
  '\u{1F1EB}\u{1F1F7}',
  '\uffff',
  '\u2028',
  '\u00a0',
  '\u3000',
];
/** What a header value can carry besides printable ASCII (Node refuses anything else). */
const HEADER_ODD_CHARS = ['\u00e9', '\u00a0', '\u00ff', ' ', '\t'];

const ODD_NUMBERS: unknown[] = [
  -1,
  0,
  0.5,
  2 ** 53 + 1,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  new RawJson('1e400'),
  new RawJson('-1e400'),
  new RawJson('NaN'),
  new RawJson('Infinity'),
  new RawJson('-0'),
  new RawJson('1E+2'),
  new RawJson('123456789012345678901234567890'),
];
const ODD_NUMBER_TEXTS = [
  '-1',
  '0',
  '0.5',
  '1e400',
  '-1e400',
  'NaN',
  'Infinity',
  '-0',
  '9007199254740993',
  '1e2',
  '0x10',
  '05',
  '+5',
];

interface Site {
  path: string[];
  /** The schema of the site (for oneOf/anyOf, the branch the value is in). */
  schema: Schema;
  /** The types the site admits, all branches together. */
  types: JsonType[];
  value: unknown;
}

function collectSites(
  schema: Schema,
  value: unknown,
  doc: SchemaDocument,
  path: string[],
  into: Site[],
): void {
  const s = branchFor(schema, value, doc);
  into.push({ path, schema: s, types: typesOf(schema, doc), value });
  if (Array.isArray(value)) {
    if (isSchema(s.items)) {
      const items = s.items;
      value.forEach((item, i) => {
        collectSites(items, item, doc, [...path, String(i)], into);
      });
    }
  } else if (isSchema(value)) {
    const properties = (s.properties ?? {}) as Record<string, Schema>;
    for (const [key, item] of Object.entries(value)) {
      const sub = Object.hasOwn(properties, key)
        ? properties[key]
        : isSchema(s.additionalProperties)
          ? s.additionalProperties
          : undefined;
      if (sub) collectSites(sub, item, doc, [...path, key], into);
    }
  }
}

const pointer = (path: string[]): string => path.map((key) => `/${escapePointer(key)}`).join('');

/** A copy of root with `change` applied to the parent of path (path non-empty) or to root itself. */
function edit(
  root: unknown,
  path: string[],
  change: (parent: Record<string, unknown>, key: string) => void,
): unknown {
  const copy = structuredClone(root);
  let parent = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  change(parent, path.at(-1) as string);
  return copy;
}

function replaceAt(root: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  return edit(root, path, (parent, key) => {
    Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  });
}

function insertChar(text: string, char: string, at: number): string {
  const points = [...text];
  const index = at % (points.length + 1);
  return [...points.slice(0, index), char, ...points.slice(index)].join('');
}

/** Values of the wrong JSON type for a site admitting `types`. */
function wrongValues(types: JsonType[], wire: Wire, current: unknown): unknown[] {
  if (types.length === 0) return [];
  if (wire === 'json') {
    return ['x', 7, 1.5, true, null, [], {}].filter((sample) => !admits(types, jsonTypeOf(sample)));
  }
  // Parameters are strings on the wire: a wrong type is text that denotes no such value,
  // or (query only) a parameter given twice.
  if (types.includes('integer') || types.includes('number')) {
    return ['abc', 'true', ...(types.includes('number') ? [] : ['1.5'])];
  }
  if (types.includes('boolean')) return ['yes'];
  return wire === 'query' && typeof current === 'string' ? [[current, current]] : [];
}

function badFormats(s: Schema, value: string): string[] {
  switch (s.format) {
    case 'uuid':
      return [
        'not-a-uuid',
        value.slice(0, -1),
        value.replaceAll('-', ''),
        `${value.slice(0, 8)}_${value.slice(9)}`,
      ];
    case 'date-time':
      return [
        '2026-13-01T00:00:00Z',
        '2026-11-27 12:00:00Z',
        '2026-11-27',
        '12:00:00Z',
        'yesterday',
        '2026-02-30T00:00:00Z',
      ];
    case 'date':
      return ['2026-13-01', '27/11/2026'];
    default:
      return typeof s.pattern === 'string' ? [' ', 'a b', '\t'] : [];
  }
}

/**
 * One-site mutations of `value` (valid against `schema`): wrong types, missing required
 * properties, strings over maxLength (and huge ones), unknown properties where
 * additionalProperties is false, odd Unicode, odd numbers, deep nesting, values outside an
 * enum or a format, arrays outside their bounds. Undefined when nothing can be mutated.
 */
export function mutationArbitrary(
  schema: Schema,
  value: unknown,
  doc: SchemaDocument,
  options: MutationOptions = {},
): fc.Arbitrary<Mutation> | undefined {
  const wire = options.wire ?? 'json';
  const json = wire === 'json';
  const sites: Site[] = [];
  collectSites(schema, value, doc, [], sites);
  const byKind = new Map<MutationKind, Array<fc.Arbitrary<Mutation>>>();
  const add = (kind: MutationKind, path: string[], arbitrary: fc.Arbitrary<unknown>): void => {
    const mutation = arbitrary.map((mutated): Mutation => ({ kind, path: pointer(path), value: mutated }));
    byKind.set(kind, [...(byKind.get(kind) ?? []), mutation]);
  };
  const replace = (kind: MutationKind, path: string[], candidates: unknown[]): void => {
    if (candidates.length > 0)
      add(
        kind,
        path,
        fc.constantFrom(...candidates).map((item) => replaceAt(value, path, item)),
      );
  };
  /** A new property in an object that admits any (free JSON: a payload, metadata). */
  const addFree = (kind: MutationKind, path: string[], key: string, candidates: unknown[]): void => {
    if (candidates.length > 0)
      add(
        kind,
        [...path, key],
        fc.constantFrom(...candidates).map((item) => replaceAt(value, [...path, key], item)),
      );
  };

  for (const site of sites) {
    const s = site.schema;
    const { path, types } = site;
    const isRoot = path.length === 0;
    // Parameters: the root is the parameter set itself, not a value that can change type.
    if (json || !isRoot) replace('wrong-type', path, wrongValues(types, wire, site.value));
    if (json && !isRoot) {
      const levels = options.deepLevels ?? [];
      replace(
        'deep-nesting',
        path,
        levels.flatMap((depth) => [new Nested(depth, 'object'), new Nested(depth, 'array')]),
      );
    }

    if (isSchema(site.value)) {
      const present = ((s.required as string[] | undefined) ?? []).filter((key) =>
        Object.hasOwn(site.value as object, key),
      );
      if (wire !== 'path') {
        for (const key of present) {
          add(
            'missing-required',
            [...path, key],
            fc.constant(edit(value, [...path, key], (parent, k) => delete parent[k])),
          );
        }
      }
      const properties = (s.properties ?? {}) as Record<string, Schema>;
      if (s.additionalProperties === false && wire !== 'header' && wire !== 'path') {
        const names = [
          'unexpected',
          'Unexpected',
          'event_id',
          'request_id',
          '',
          ' ',
          ...(json ? ['\u0000'] : ['offset', 'limit[]']),
        ];
        for (const key of names.filter(
          (name) => !Object.hasOwn(properties, name) && !Object.hasOwn(site.value as object, name),
        )) {
          addFree('extra-field', path, key, json ? [1, 'x', null, {}] : ['1']);
        }
      }
      if (
        json &&
        (s.additionalProperties === true || (s.additionalProperties === undefined && !s.properties))
      ) {
        // Free JSON: any key, any value. What a server still has to bound: size, depth, numbers.
        addFree('odd-number', path, 'n', ODD_NUMBERS);
        addFree(
          'huge-string',
          path,
          'huge',
          (options.hugeLengths ?? []).map((length) => new LongString(length)),
        );
        addFree(
          'deep-nesting',
          path,
          'deep',
          (options.deepLevels ?? []).flatMap((depth) => [
            new Nested(depth, 'object'),
            new Nested(depth, 'array'),
          ]),
        );
        for (const char of ODD_CHARS) addFree('odd-unicode', path, `k${char}`, [char, `v${char}v`]);
      }
    }

    if (Array.isArray(site.value) && json) {
      const items = site.value;
      const maxItems = num(s.maxItems);
      const minItems = num(s.minItems) ?? 0;
      const bounds: unknown[][] = [];
      if (maxItems !== undefined && items.length > 0) {
        bounds.push(Array.from({ length: maxItems + 1 }, (_, i) => structuredClone(items[i % items.length])));
      }
      if (minItems > 0) bounds.push([]);
      replace('array-bounds', path, bounds);
    }

    if (typeof site.value === 'string' && !isRoot) {
      const text = site.value;
      const maxLength = num(s.maxLength);
      if (maxLength !== undefined) {
        const pads = wire === 'header' ? ['x'] : ['x', '\u{1F600}'];
        replace(
          'oversized-string',
          path,
          pads.map((pad) => `${text}${pad.repeat(Math.max(1, maxLength + 1 - codePoints(text)))}`),
        );
      }
      if (json)
        replace(
          'huge-string',
          path,
          (options.hugeLengths ?? []).map((length) => new LongString(length)),
        );
      const chars = wire === 'header' ? HEADER_ODD_CHARS : ODD_CHARS;
      add(
        'odd-unicode',
        path,
        fc
          .tuple(fc.constantFrom(...chars), fc.nat())
          .map(([char, at]) => replaceAt(value, path, insertChar(text, char, at))),
      );
      if (Array.isArray(s.enum)) {
        replace(
          'out-of-enum',
          path,
          [text.toUpperCase(), `${text}x`, ` ${text}`, 'unknown'].filter(
            (v) => !(s.enum as unknown[]).includes(v),
          ),
        );
      }
      replace(
        'bad-format',
        path,
        badFormats(s, text).filter((bad) => bad !== text),
      );
      if (!json && (types.includes('integer') || types.includes('number')))
        replace('odd-number', path, ODD_NUMBER_TEXTS);
    }
    if (typeof site.value === 'number' && json) replace('odd-number', path, ODD_NUMBERS);
  }

  const kinds = [...byKind.values()];
  if (kinds.length === 0) return undefined;
  // Every kind equally likely, whatever its number of sites.
  return fc.oneof(...kinds.map((arbitraries) => fc.oneof(...arbitraries)));
}
