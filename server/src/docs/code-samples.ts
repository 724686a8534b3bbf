import { DEV_API_KEY } from '../auth/api-keys';

type Json = Record<string, unknown>;

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  example?: unknown;
}

interface Operation {
  parameters?: Array<Parameter | { $ref: string }>;
  requestBody?: {
    required?: boolean;
    content?: Record<string, { example?: unknown; examples?: Record<string, { value?: unknown }> }>;
  };
  security?: unknown[];
  'x-codeSamples'?: unknown[];
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Where the samples send requests when the contract names no server. */
const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';

/**
 * The document the HTML reference renders: the contract with a curl command per operation in
 * `x-codeSamples`, which Redoc shows beside the operation with a copy button. Derived from the
 * contract rather than written in it, so that /openapi.yaml stays the contract exactly as
 * written and a new operation gets its sample without anyone writing one.
 *
 * The samples run as printed against `npm start`: the contract's first server (the local one)
 * and, for operations that need a key, the development key that `AUTH_MODE=local` accepts.
 */
export function withCurlSamples(document: Json): Json {
  const reference = structuredClone(document) as Json & {
    paths?: Record<string, Json & { parameters?: Operation['parameters'] }>;
    servers?: Array<{ url: string }>;
    security?: unknown[];
  };
  const baseUrl = (reference.servers?.[0]?.url ?? DEFAULT_BASE_URL).replace(/\/$/, '');
  for (const [path, item] of Object.entries(reference.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined;
      if (!operation) continue;
      const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((each) =>
        resolve<Parameter>(reference, each),
      );
      const needsKey = (operation.security ?? reference.security ?? []).length > 0;
      const source = curl({
        method,
        url: `${baseUrl}${path}`,
        parameters,
        needsKey,
        body: exampleBody(operation),
      });
      operation['x-codeSamples'] = [{ lang: 'Shell', label: 'curl', source }];
    }
  }
  return reference;
}

function curl(request: {
  method: string;
  url: string;
  parameters: Parameter[];
  needsKey: boolean;
  body: unknown;
}): string {
  // A path parameter without an example becomes a shell variable named after it: `$EVENT_ID`.
  let url = request.url.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    const example = request.parameters.find((each) => each.in === 'path' && each.name === name)?.example;
    return example === undefined ? `$${name.toUpperCase()}` : encodeURIComponent(String(example));
  });
  const query = request.parameters
    .filter((each) => each.in === 'query' && each.required)
    .map((each) => `${encodeURIComponent(each.name)}=${encodeURIComponent(String(each.example ?? ''))}`);
  if (query.length > 0) url += `?${query.join('&')}`;

  const lines = [
    `curl${request.method === 'get' ? '' : ` -X ${request.method.toUpperCase()}`} ${quoteUrl(url)}`,
  ];
  if (request.needsKey) lines.push(`-H ${shellQuote(`X-API-Key: ${DEV_API_KEY}`)}`);
  for (const header of request.parameters.filter((each) => each.in === 'header' && each.required)) {
    lines.push(`-H ${shellQuote(`${header.name}: ${String(header.example ?? '')}`)}`);
  }
  if (request.body !== undefined) {
    lines.push(`-H 'Content-Type: application/json'`);
    lines.push(`-d ${shellQuote(JSON.stringify(request.body))}`);
  }
  return lines.join(' \\\n  ');
}

/** The operation's documented JSON example body; `{}` when it needs a body and has no example. */
function exampleBody(operation: Operation): unknown {
  const json = operation.requestBody?.content?.['application/json'];
  if (!json) return undefined;
  const example = json.example ?? Object.values(json.examples ?? {})[0]?.value;
  if (example !== undefined) return example;
  return operation.requestBody?.required ? {} : undefined;
}

function resolve<T>(document: Json, value: T | { $ref: string }): T {
  if (typeof value !== 'object' || value === null || !('$ref' in value)) return value as T;
  let target: unknown = document;
  for (const segment of value.$ref.replace(/^#\//, '').split('/')) {
    target = (target as Json | undefined)?.[segment.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  if (target === undefined) throw new Error(`the contract has no ${value.$ref}`);
  return target as T;
}

/** Double quotes only when the URL holds a shell variable to expand. */
function quoteUrl(url: string): string {
  return url.includes('$') ? `"${url}"` : shellQuote(url);
}

/** One shell word, in single quotes: nothing in it is expanded. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
