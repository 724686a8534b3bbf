import type { FieldError } from './errors';

type Schema = Record<string, unknown>;

/** What the contract says of one operation's request body, for messages about it. */
export interface RequestBodyHint {
  /** The media types the operation accepts, as the contract lists them. */
  mediaTypes: string[];
  /** A JSON object with the body's required fields, such as `{"items":[…]}`. */
  skeleton: string;
  /** The one required array field, when the body is an object around a list (bulk). */
  listField: string | undefined;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/**
 * Turns what the validators say (Ajv's messages, such as `must match pattern "^(?!\s*$)…"`) into
 * sentences a user can act on, from the contract itself: a `pattern` is explained by the
 * `x-pattern-message` written next to it in openapi/triggers.v1.yaml, and the hints about request
 * bodies (an example object, the accepted media types) come from the operations. Built once per
 * app; used on error paths only.
 */
export class ValidationMessages {
  private readonly patterns = new Map<string, string>();
  private readonly bodies = new Map<string, RequestBodyHint>();

  constructor(private readonly spec: { paths: Record<string, unknown>; components?: unknown }) {
    collectPatternMessages(spec, this.patterns);
    for (const [template, item] of Object.entries(spec.paths)) {
      for (const method of METHODS) {
        const operation = (item as Record<string, Schema | undefined>)[method];
        const content = (
          operation?.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined
        )?.content;
        if (!content) continue;
        const schema = this.resolve(Object.values(content)[0]?.schema ?? {});
        this.bodies.set(`${method.toUpperCase()} ${template}`, {
          mediaTypes: Object.keys(content),
          skeleton: this.skeleton(schema),
          listField: this.listField(schema),
        });
      }
    }
  }

  /** The sentence the contract gives for `pattern` (its `x-pattern-message`). */
  patternMessage(pattern: string): string | undefined {
    return this.patterns.get(pattern);
  }

  /** The request body of `method` on the contract path `template`, when it has one. */
  requestBody(method: string, template: string): RequestBodyHint | undefined {
    return this.bodies.get(`${method} ${template}`);
  }

  /** Ajv's errors in words, one per field (the first problem of each). */
  fieldErrors(errors: ReadonlyArray<{ path?: string; message?: string }>): FieldError[] {
    const seen = new Set<string>();
    const result: FieldError[] = [];
    for (const error of errors) {
      const path = error.path ?? '';
      if (seen.has(path)) continue;
      seen.add(path);
      result.push({ path, message: this.inWords(error.message ?? 'is invalid') });
    }
    return result;
  }

  private inWords(message: string): string {
    for (const [pattern, rewrite] of REWRITES) {
      const match = pattern.exec(message);
      if (match) return rewrite(match, this);
    }
    return message;
  }

  private resolve(schema: Schema): Schema {
    const ref = schema.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
    let target: unknown = this.spec;
    for (const part of ref.slice(2).split('/'))
      target = (target as Record<string, unknown> | undefined)?.[part];
    return this.resolve((target ?? {}) as Schema);
  }

  /** Required fields with their own required fields and allOf parts merged in. */
  private required(schema: Schema): Array<[string, Schema]> {
    const parts = [
      schema,
      ...((schema.allOf as Schema[] | undefined) ?? []).map((part) => this.resolve(part)),
    ];
    const fields: Array<[string, Schema]> = [];
    for (const part of parts) {
      const properties = (part.properties ?? {}) as Record<string, Schema>;
      for (const name of (part.required as string[] | undefined) ?? []) {
        if (!fields.some(([known]) => known === name)) {
          fields.push([name, this.resolve(properties[name] ?? {})]);
        }
      }
    }
    return fields;
  }

  private skeleton(schema: Schema): string {
    const fields = this.required(schema).map(([name, field]) => `"${name}":${placeholder(field)}`);
    return `{${fields.join(',')}}`;
  }

  private listField(schema: Schema): string | undefined {
    const lists = this.required(schema).filter(([, field]) => field.type === 'array');
    return lists.length === 1 ? lists[0]?.[0] : undefined;
  }
}

function placeholder(schema: Schema): string {
  switch (schema.type) {
    case 'object':
      return '{…}';
    case 'array':
      return '[…]';
    case 'integer':
    case 'number':
      return '1';
    default:
      return '"…"';
  }
}

/** Every `pattern` of the contract with its `x-pattern-message`; one pattern, one sentence. */
function collectPatternMessages(node: unknown, into: Map<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectPatternMessages(item, into);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Schema;
  const message = schema['x-pattern-message'];
  if (typeof schema.pattern === 'string' && typeof message === 'string') {
    const known = into.get(schema.pattern);
    if (known !== undefined && known !== message) {
      throw new Error(`the contract explains the pattern ${schema.pattern} twice, differently`);
    }
    into.set(schema.pattern, message);
  }
  for (const value of Object.values(schema)) collectPatternMessages(value, into);
}

/** The top-level message of a validation error: its first problem as a sentence, and how many more. */
export function summarize(errors: readonly FieldError[]): string {
  const [first] = errors;
  if (!first) return 'The request does not match the API contract.';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more: see details.errors)` : '';
  return `${subjectOf(first.path)} ${first.message}${more}.`;
}

/** How a path of details.errors is named in a sentence. */
export function subjectOf(path: string): string {
  const [, part = '', ...rest] = path.split('/');
  const name = rest.map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`)).join('');
  switch (part) {
    case 'body':
      return name ? name.slice(1) : 'The request body';
    case 'query':
      return `The query parameter ${name.slice(1)}`;
    case 'headers':
      return `The header ${name.slice(1)}`;
    case 'params':
      return `The path parameter ${name.slice(1)}`;
    case '':
      return 'The request';
    default:
      // A bulk item (`/items/0/event_type`): the path is the field's place in the body.
      return `${part}${name}`;
  }
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'an array',
  null: 'null',
};

const FORMAT_MESSAGES: Record<string, string> = {
  'date-time': 'must be a date and time in ISO 8601 with a time zone, such as 2026-01-31T09:30:00.000Z',
  uri: 'must be an absolute URL, such as https://example.com/hooks',
  uuid: 'must be a UUID, such as 0193a0b0-0000-7000-8000-000000000000',
};

const COMPARISONS: Record<string, string> = {
  '<=': 'at most',
  '>=': 'at least',
  '<': 'less than',
  '>': 'more than',
};

const plural = (count: string, noun: string) => `${count} ${noun}${count === '1' ? '' : 's'}`;

/** Ajv's English (as the validators word it) to sentences that say what to send instead. */
const REWRITES: Array<[RegExp, (match: RegExpExecArray, messages: ValidationMessages) => string]> = [
  [/^must have required property '.+'$/, () => 'is required'],
  [
    /^must NOT have additional properties$/,
    () => 'is not a field of this request: check its spelling, or remove it',
  ],
  [
    /^must match pattern "(.*)"$/s,
    ([, pattern], messages) => messages.patternMessage(pattern ?? '') ?? 'is not in the expected format',
  ],
  [/^must NOT have fewer than 1 characters$/, () => 'must not be empty'],
  [
    /^must NOT have fewer than (\d+) characters$/,
    ([, n]) => `must be at least ${plural(n ?? '', 'character')} long`,
  ],
  [
    /^must NOT have more than (\d+) characters$/,
    ([, n]) => `must be at most ${plural(n ?? '', 'character')} long`,
  ],
  [/^must NOT have fewer than (\d+) items$/, ([, n]) => `must hold at least ${plural(n ?? '', 'item')}`],
  [/^must NOT have more than (\d+) items$/, ([, n]) => `must hold at most ${plural(n ?? '', 'item')}`],
  [
    /^must NOT have fewer than (\d+) properties$/,
    ([, n]) => `must hold at least ${plural(n ?? '', 'field')}`,
  ],
  [/^must NOT have more than (\d+) properties$/, ([, n]) => `must hold at most ${plural(n ?? '', 'field')}`],
  [/^must be (<=|>=|<|>) (\S+)$/, ([, op, n]) => `must be ${COMPARISONS[op ?? '']} ${n}`],
  [/^must be equal to one of the allowed values: (.*)$/, ([, values]) => `must be one of: ${values}`],
  [
    /^must be ([a-z]+(?:,[a-z]+)*)$/,
    ([, types]) =>
      `must be ${(types ?? '')
        .split(',')
        .map((type) => TYPE_NAMES[type] ?? type)
        .join(' or ')}`,
  ],
  [
    /^must match format "(.+)"$/,
    ([, format]) => FORMAT_MESSAGES[format ?? ''] ?? `must be a valid ${format}`,
  ],
  [
    /^must NOT have duplicate items \(items ## (\d+) and (\d+) are identical\)$/,
    ([, a, b]) => `must not repeat an item: items ${a} and ${b} are the same`,
  ],
  [
    /^Unknown query parameter '.+'$/,
    () => 'is not a parameter of this operation: check its spelling, or remove it',
  ],
];
