import type { IncomingHttpHeaders } from 'node:http';
import type { ErrorObject } from 'ajv/dist/2020';
import { fullFormats } from 'ajv-formats/dist/formats';
import { type CompileWhen, componentValidatorGetter } from '../component-schema';
import { type FieldError, ValidationError } from '../errors';
import type { components } from '../generated/triggers';

export type CloudEvent = components['schemas']['CloudEvent'];

export const CLOUDEVENT_MEDIA_TYPE = 'application/cloudevents+json';
export const CLOUDEVENT_BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json';
export const MAX_BATCH_SIZE = 100;

/**
 * The headers that make a request a binary-mode CloudEvent. The HTTP binding names
 * ce-specversion; any of the four required attributes counts, so that a sender who forgot
 * ce-specversion hears which attribute is missing instead of a native event's errors.
 */
const BINARY_MODE_HEADERS = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type'];
const REQUIRED = ['specversion', 'id', 'source', 'type'];
/** The event field each mapped attribute becomes, for the messages. */
const MAPPED_TO: Record<string, string> = { source: 'source', type: 'event_type' };

/** Where each attribute of the CloudEvent being read was in the request. */
export interface CloudEventShape {
  /** The JSON pointer of the event as a whole. */
  root: string;
  /** The JSON pointer (`/body/source`, `/headers/ce-source`) of an attribute. */
  pathOf(attribute: string): string;
  binary: boolean;
}

/** A structured CloudEvent at `root`: the body, or `/body/<index>` in a batch. */
export const structuredShape = (root = '/body'): CloudEventShape => ({
  root,
  pathOf: (attribute) => `${root}/${attribute}`,
  binary: false,
});

const binaryShape: CloudEventShape = {
  root: '/headers',
  pathOf: (attribute) =>
    attribute === 'data'
      ? '/body'
      : attribute === 'datacontenttype'
        ? '/headers/content-type'
        : `/headers/ce-${attribute}`,
  binary: true,
};

export function isBinaryMode(headers: IncomingHttpHeaders): boolean {
  return BINARY_MODE_HEADERS.some((name) => headers[name] !== undefined);
}

/**
 * A binary-mode request as its structured equivalent (the CloudEvents HTTP binding makes the
 * two modes carry the same event): each `ce-<name>` header, percent-decoded, is the attribute
 * `<name>`; the Content-Type is `datacontenttype`; the body, when it was JSON, is `data`.
 */
export function fromBinaryMode(
  headers: IncomingHttpHeaders,
  jsonBody: unknown,
): { event: Record<string, unknown>; shape: CloudEventShape } {
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('ce-') || value === undefined) continue;
    const attribute = name.slice('ce-'.length);
    const text = Array.isArray(value) ? value.join(', ') : value;
    // Node reads header bytes as Latin-1: raw UTF-8 would arrive garbled, so it is refused.
    if (!/^[\x20-\x7E]*$/.test(text)) {
      throw new ValidationError(
        `The header ${name} holds characters outside printable ASCII: percent-encode them as UTF-8 (%XX), as the CloudEvents HTTP binding says.`,
        [{ path: `/headers/${name}`, message: 'must be printable ASCII, other characters percent-encoded' }],
      );
    }
    try {
      event[attribute] = decodeURIComponent(text);
    } catch {
      throw new ValidationError(
        `The header ${name} is not valid percent-encoding: encode the attribute's UTF-8 bytes as %XX.`,
        [{ path: `/headers/${name}`, message: 'must be percent-encoded UTF-8' }],
      );
    }
  }
  delete event.data;
  delete event.datacontenttype;
  if (headers['content-type'] !== undefined) event.datacontenttype = headers['content-type'];
  if (jsonBody !== undefined) event.data = jsonBody;
  return { event, shape: binaryShape };
}

/**
 * Reads CloudEvents against the contract's own `CloudEvent` schema (the rules live there),
 * and says what to fix in one sentence per attribute: the validator's generic messages
 * ("must have required property 'source'") would not tell a CloudEvents sender which header
 * or attribute it means. Used before the request validator (so these messages win) and for
 * each CloudEvent of a batch, where the contract only asks for objects so that a bad one
 * fails alone.
 */
export class CloudEventReader {
  private readonly validator;

  constructor(specDocument: Record<string, unknown>, when: CompileWhen = 'now') {
    this.validator = componentValidatorGetter(specDocument, 'CloudEvent', when, (ajv) => {
      // RFC 3339 separates date and time with a "T" (ajv-formats also takes a space).
      const dateTime = fullFormats['date-time'] as { validate: (text: string) => boolean };
      ajv.addFormat(
        'date-time',
        (text: string) => /^\d{4}-\d\d-\d\d[Tt]/.test(text) && dateTime.validate(text),
      );
    });
  }

  /** The CloudEvent, or a ValidationError naming the attribute to fix. */
  read(value: unknown, shape: CloudEventShape = structuredShape()): CloudEvent {
    const validate = this.validator();
    if (validate(value)) return value as CloudEvent;
    const problems = (validate.errors ?? []).map((error) => describe(error, value, shape));
    problems.sort((a, b) => a.rank - b.rank);
    // One error per attribute: the first, most telling, of its messages.
    const errors: FieldError[] = [];
    const seen = new Set<string>();
    for (const { path, message } of problems) {
      if (seen.has(path)) continue;
      seen.add(path);
      errors.push({ path, message });
    }
    throw new ValidationError((errors[0] as FieldError).message, errors);
  }
}

/** 400 unless the body of a batch is an array of 1 to 100 objects (the contract's CloudEventBatch). */
export function checkBatch(body: unknown): void {
  if (!Array.isArray(body) || body.length < 1 || body.length > MAX_BATCH_SIZE) {
    throw new ValidationError(
      `A CloudEvents batch is a JSON array of 1 to ${MAX_BATCH_SIZE} CloudEvents${Array.isArray(body) ? `; this one holds ${body.length}` : ''}.`,
      [{ path: '/body', message: `must be an array of 1 to ${MAX_BATCH_SIZE} CloudEvents` }],
    );
  }
  const index = body.findIndex((item) => item === null || typeof item !== 'object' || Array.isArray(item));
  if (index >= 0) {
    throw new ValidationError(
      `Item ${index} of the CloudEvents batch is not a JSON object; send each CloudEvent in its structured JSON form.`,
      [{ path: `/body/${index}`, message: 'must be a CloudEvent (a JSON object)' }],
    );
  }
}

interface Problem extends FieldError {
  /** Lower comes first: the request's own shape, then missing attributes, version, data, the rest. */
  rank: number;
}

const DATA_MESSAGE = 'data must be a JSON object; this API stores JSON objects as payload';

function describe(error: ErrorObject, value: unknown, shape: CloudEventShape): Problem {
  const attribute = attributeOf(error);
  const path = attribute === undefined ? shape.root : shape.pathOf(attribute);
  const problem = (rank: number, message: string): Problem => ({ path, message, rank });
  if (attribute === undefined) {
    if (error.keyword === 'maxProperties') return problem(0, 'A CloudEvent has at most 64 attributes.');
    return problem(0, 'A CloudEvent is a JSON object of its attributes (structured mode).');
  }
  const given = (value as Record<string, unknown>)[attribute];
  if (attribute === 'data_base64') {
    return problem(3, `${DATA_MESSAGE}, so data_base64 (binary data) is not accepted.`);
  }
  if (attribute === 'data') {
    const how = shape.binary
      ? ': in binary mode, send it as the body with Content-Type: application/json.'
      : '.';
    return problem(3.5, `${DATA_MESSAGE}${how}`);
  }
  if (error.keyword === 'required') {
    const header = shape.binary ? `: send it as the ce-${attribute} header` : '';
    return problem(1, `A CloudEvent needs the attribute '${attribute}'${header}.`);
  }
  if (attribute === 'specversion') {
    return problem(
      2,
      `specversion must be "1.0" (this API takes CloudEvents 1.0), not ${excerpt(JSON.stringify(given))}.`,
    );
  }
  const mappedTo = MAPPED_TO[attribute];
  if (mappedTo !== undefined && typeof given === 'string') {
    const length = [...given].length;
    return problem(
      4,
      length > 128
        ? `${attribute} is ${length} characters long; it becomes the event's ${mappedTo}, which holds at most 128.`
        : `${attribute} must not be blank (nor hold lone surrogates); it becomes the event's ${mappedTo}.`,
    );
  }
  if (error.keyword === 'additionalProperties') {
    return problem(
      4,
      `'${excerpt(attribute)}' is not a CloudEvents attribute name: use 1 to 64 lower-case letters and digits.`,
    );
  }
  if (attribute === 'time' && error.keyword === 'format') {
    return problem(4, 'time must be an RFC 3339 timestamp, such as 2026-11-27T15:30:00Z.');
  }
  if (attribute === 'dataschema' && error.keyword === 'format') {
    return problem(4, 'dataschema must be an absolute URI.');
  }
  if (attribute === 'datacontenttype' && error.keyword === 'pattern') {
    return problem(
      4,
      'datacontenttype must be a JSON media type such as application/json; this API stores JSON objects as payload.',
    );
  }
  const known = REQUIRED.includes(attribute) || error.schemaPath.startsWith('#/properties/');
  if (!known && (error.keyword === 'type' || error.keyword === 'minimum' || error.keyword === 'maximum')) {
    return problem(4, `The attribute '${attribute}' must be a string, a 32-bit integer or a boolean.`);
  }
  return problem(4, `The attribute '${attribute}' ${error.message ?? 'is invalid'}.`);
}

/** The top-level attribute an error is about; undefined for the event as a whole. */
function attributeOf(error: ErrorObject): string | undefined {
  if (error.keyword === 'required') return (error.params as { missingProperty: string }).missingProperty;
  if (error.keyword === 'additionalProperties') {
    return (error.params as { additionalProperty: string }).additionalProperty;
  }
  const first = error.instancePath.split('/')[1];
  return first === undefined ? undefined : first.replaceAll('~1', '/').replaceAll('~0', '~');
}

function excerpt(text: string | undefined, max = 40): string {
  if (text === undefined) return 'nothing';
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
