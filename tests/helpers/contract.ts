import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Response, Test } from 'supertest';
import { loadSpec } from '../../server/src/spec';

/**
 * Checks a response against the contract the way a client generated from it would: the
 * status must be documented for the operation, the body must match the documented schema,
 * every answer carries X-Request-ID, and JSON bodies carry the same request id. Unknown
 * paths and methods must answer the documented 404 / 405 envelopes.
 */
type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, Json>;
}

const spec = loadSpec().document as unknown as Json & {
  paths: Record<string, Record<string, Operation>>;
  components: Json & { responses: Record<string, Json> };
};
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
ajv.addSchema({ $id: 'spec', components: spec.components });

const validators = new Map<string, ValidateFunction>();
function validatorFor(ref: string): ValidateFunction {
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.getSchema(`spec${ref}`);
    if (!validate) throw new Error(`no schema at ${ref}`);
    validators.set(ref, validate);
  }
  return validate;
}

const templates = Object.keys(spec.paths)
  .map((template) => ({
    template,
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    params: (template.match(/\{/g) ?? []).length,
  }))
  // Concrete paths win over templated ones (/v1/events/bulk over /v1/events/{event_id}).
  .sort((a, b) => a.params - b.params);

function resolveResponse(response: Json): Json {
  const ref = response.$ref as string | undefined;
  if (!ref) return response;
  const name = ref.replace('#/components/responses/', '');
  const resolved = spec.components.responses[name];
  if (!resolved) throw new Error(`no response at ${ref}`);
  return resolved;
}

/** An HTTP answer, however it was obtained (supertest, fetch, a Lambda proxy result). */
export interface Answer {
  method: string;
  /** The request path, with or without its query string. */
  path: string;
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: unknown;
}

export function assertMatchesContract(res: Response): void {
  const req = (res as unknown as { req: { method: string; path: string } }).req;
  const { status, headers, text, body } = res;
  assertAnswerMatchesContract({ method: req.method, path: req.path, status, headers, text, body });
}

export function assertAnswerMatchesContract(res: Answer): void {
  const method = res.method.toLowerCase();
  const pathname = new URL(res.path, 'http://localhost').pathname;
  const where = `${res.method} ${pathname} -> ${res.status}`;

  const requestId = res.headers['x-request-id'];
  if (!requestId) throw new Error(`${where}: no X-Request-ID header`);

  const match = templates.find((candidate) => candidate.regex.test(pathname));
  let responseSpec: Json | undefined;
  if (!match) {
    responseSpec = spec.components.responses.NotFound;
    if (res.status !== 404 && res.status !== 401) {
      throw new Error(`${where}: undocumented path must answer 404 (or 401 before auth)`);
    }
    if (res.status === 401) responseSpec = spec.components.responses.Unauthorized;
  } else {
    const operation = spec.paths[match.template]?.[method];
    if (!operation) {
      if (res.status !== 405 && res.status !== 401) {
        throw new Error(`${where}: undocumented method must answer 405`);
      }
      responseSpec = spec.components.responses[res.status === 405 ? 'MethodNotAllowed' : 'Unauthorized'];
    } else {
      const documented = operation.responses[String(res.status)];
      if (!documented) {
        throw new Error(
          `${where}: status ${res.status} is not documented for ${method.toUpperCase()} ${match.template} (body ${JSON.stringify(res.body).slice(0, 300)})`,
        );
      }
      responseSpec = resolveResponse(documented);
    }
  }
  const content = responseSpec?.content as Record<string, { schema?: Json }> | undefined;
  if (!content) {
    if (res.text) throw new Error(`${where}: documented without a body, but one was sent`);
    return;
  }
  const json = content['application/json'];
  if (!json) return;
  if (!/^application\/json/.test(String(res.headers['content-type']))) {
    throw new Error(`${where}: expected application/json, got ${res.headers['content-type']}`);
  }
  const ref = json.schema?.$ref as string | undefined;
  if (!ref) throw new Error(`${where}: response schema has no $ref`);
  const validate = validatorFor(ref);
  if (!validate(res.body)) {
    throw new Error(
      `${where}: body does not match ${ref}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body).slice(0, 500)}`,
    );
  }
  const bodyRequestId =
    (res.body as { request_id?: string; error?: { request_id?: string } }).request_id ??
    (res.body as { error?: { request_id?: string } }).error?.request_id;
  if (bodyRequestId !== requestId) {
    throw new Error(`${where}: body request_id ${bodyRequestId} differs from X-Request-ID ${requestId}`);
  }
}

/**
 * Awaits a supertest request and checks its response against the contract. With `status`,
 * any other status fails right here, naming the request and the start of its body: a setup
 * call that failed (a 503, say) must not surface later as an `undefined` field.
 */
export async function checked(test: Test, status?: number): Promise<Response> {
  const res = await test;
  if (status !== undefined && res.status !== status) {
    const req = (res as unknown as { req: { method: string; path: string } }).req;
    const body = res.text ? `body ${res.text.slice(0, 300)}` : 'no body';
    throw new Error(`${req.method} ${req.path}: expected ${status}, got ${res.status} (${body})`);
  }
  assertMatchesContract(res);
  return res;
}
