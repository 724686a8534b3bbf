import type { RequestHandler } from 'express';
import { MethodNotAllowedError, NotFoundError } from '../errors';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Route {
  template: string;
  pattern: RegExp;
  /** The same, ignoring case: only to suggest the path a refused request meant. */
  loosePattern: RegExp;
  params: number;
  allow: string[];
}

/**
 * Answers 404 for a path the contract does not have and 405 (with Allow) for a method it
 * does not have on that path, before anything reads the body or the key: a malformed body
 * or a missing key never hides that the path is wrong. Matching is exact (case-sensitive,
 * no trailing slash), as the contract writes paths; concrete paths win over templated ones. A
 * 404 that is only a trailing slash or a case away from a path says which one (on the error
 * path only: a request that matches pays nothing for it).
 */
export function routeGuard(specPaths: Record<string, Record<string, unknown>>): RequestHandler {
  const routes: Route[] = Object.entries(specPaths)
    .map(([template, item]) => {
      const source = `^${template
        .split(/(\{[^}]+\})/)
        .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('')}$`;
      return {
        template,
        pattern: new RegExp(source),
        loosePattern: new RegExp(source, 'i'),
        params: (template.match(/\{/g) ?? []).length,
        allow: METHODS.filter((method) => method in item).map((method) => method.toUpperCase()),
      };
    })
    .sort((a, b) => a.params - b.params);

  return (req, _res, next) => {
    const route = routes.find((candidate) => candidate.pattern.test(req.path));
    if (!route) throw notFound(req.method, req.path, routes);
    if (!route.allow.includes(req.method)) throw new MethodNotAllowedError(req.method, route.allow);
    next();
  };
}

/**
 * 404 for a path the contract lacks; when it has the same path but for a trailing slash or
 * the case of its letters (`/v1/inbox/`, `/v1/Inbox`), the answer names that path.
 */
function notFound(method: string, path: string, routes: Route[]): NotFoundError {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const route = routes.find((candidate) => candidate.loosePattern.test(trimmed));
  if (!route) return new NotFoundError(`No such path: ${method} ${path}.`);
  const suggestion = spelledAs(route.template, trimmed);
  const rules = [
    trimmed !== path ? 'have no trailing slash' : undefined,
    suggestion !== trimmed ? 'are case-sensitive' : undefined,
  ].filter(Boolean);
  const call = route.allow.includes(method) ? `${method} ${suggestion}` : suggestion;
  return new NotFoundError(
    `No such path: ${method} ${path}. Did you mean ${call}? Paths ${rules.join(' and ')}.`,
    {
      did_you_mean: suggestion,
    },
  );
}

/** `path` with the template's own spelling of its fixed segments; parameter values kept. */
function spelledAs(template: string, path: string): string {
  const given = path.split('/');
  return template
    .split('/')
    .map((segment, index) => (segment.startsWith('{') ? (given[index] ?? segment) : segment))
    .join('/');
}
