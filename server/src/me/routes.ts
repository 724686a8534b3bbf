import { Router } from 'express';
import { principalOf } from '../auth/middleware';
import type { components } from '../generated/triggers';
import { requestIdOf } from '../http/request-id';

export function meRouter(): Router {
  const router = Router();
  router.get('/v1/me', (_req, res) => {
    const principal = principalOf(res);
    const answer: components['schemas']['Me'] = {
      tenant_id: principal.tenantId,
      key_id: principal.keyId,
      source: principal.source,
      scopes: [...principal.scopes],
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });
  return router;
}
