import type { RequestHandler } from 'express';
import { MethodNotAllowedError, NotFoundError } from '../errors';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Route {
  pattern: RegExp;
  params: number;
  allow: string[];
}

/**
 * Answers 404 for a path the contract does not have and 405 (with Allow) for a method it
 * does not have on that path, before anything reads the body or the key: a malformed body
 * or a missing key never hides that the path is wrong. Matching is exact (case-sensitive,
 * no trailing slash), as the contract writes paths; concrete paths win over templated ones.
 */
export function routeGuard(specPaths: Record<string, Record<string, unknown>>): RequestHandler {
  const routes: Route[] = Object.entries(specPaths)
    .map(([template, item]) => ({
      pattern: new RegExp(
        `^${template
          .split(/(\{[^}]+\})/)
          .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('')}$`,
      ),
      params: (template.match(/\{/g) ?? []).length,
      allow: METHODS.filter((method) => method in item).map((method) => method.toUpperCase()),
    }))
    .sort((a, b) => a.params - b.params);

  return (req, _res, next) => {
    const route = routes.find((candidate) => candidate.pattern.test(req.path));
    if (!route) throw new NotFoundError(`No such path: ${req.method} ${req.path}.`);
    if (!route.allow.includes(req.method)) throw new MethodNotAllowedError(req.method, route.allow);
    next();
  };
}
