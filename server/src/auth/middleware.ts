import type { Request, RequestHandler, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from '../errors';
import { isWarmUpRequest, WARM_UP_PRINCIPAL } from '../http/warm-up';
import type { Scope } from '../store/key-store';
import type { Authenticator } from './authenticator';
import type { FailedAuthLimiter } from './failed-auth-limit';
import type { Principal } from './principal';

/** The key from `X-API-Key`, else from `Authorization: Bearer <key>`. */
export function readApiKey(req: Request): string | undefined {
  const header = req.get('x-api-key');
  if (header) return header.trim();
  const authorization = req.get('authorization');
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match?.[1];
}

/**
 * Resolves the request's API key and keeps the principal in `res.locals`. With `failures`, an
 * address that failed too often is refused before its key is looked up (unless the key was
 * verified recently: see Authenticator.cachedPrincipal), and each wrong key counts against
 * its address. A missing key counts as no attempt: it guesses nothing.
 */
export function authenticate(authenticator: Authenticator, failures?: FailedAuthLimiter): RequestHandler {
  return async (req, res, next) => {
    if (isWarmUpRequest(req)) {
      res.locals.principal = WARM_UP_PRINCIPAL;
      return next();
    }
    const rawKey = readApiKey(req);
    if (failures) {
      // A key already verified costs the store nothing: it passes even from a blocked address.
      const known = authenticator.cachedPrincipal(rawKey);
      if (known) {
        res.locals.principal = known;
        return next();
      }
      failures.check(req, res);
    }
    try {
      res.locals.principal = await authenticator.authenticate(rawKey);
    } catch (error) {
      if (failures && rawKey && error instanceof UnauthorizedError) failures.fail(req);
      throw error;
    }
    next();
  };
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error('principalOf called on a route that is not authenticated');
  return principal;
}

/** 403 unless the key carries `scope` (the operation's `x-required-scope` in the contract). */
export function requireScope(scope: Scope): RequestHandler {
  return (_req, res, next) => {
    if (!principalOf(res).scopes.includes(scope)) throw new ForbiddenError(scope);
    next();
  };
}
