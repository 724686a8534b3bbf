import { Router } from 'express';
import { type Clock, toIso } from '../clock';
import { NotReadyError } from '../errors';
import type { components } from '../generated/triggers';
import { requestIdOf } from '../http/request-id';
import type { EventStore } from '../store/event-store';
import type { Readiness } from './readiness';

/** A store that does not answer within this is reported down. */
const PING_TIMEOUT_MS = 2_000;

export function healthRouter(store: EventStore, version: string, clock: Clock, readiness: Readiness): Router {
  const router = Router();
  // Readiness, apart from liveness below: can the store take writes now (readiness.ts)?
  router.get('/v1/health/ready', async (_req, res) => {
    const observed = await readiness.check();
    if (!observed.ready) throw new NotReadyError(observed.reason, store.kind, toIso(observed.since));
    const answer: components['schemas']['Readiness'] = {
      status: 'ready',
      store: store.kind,
      checked_at: toIso(observed.at),
      timestamp: toIso(clock()),
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });
  router.get('/v1/health', async (_req, res) => {
    const healthy = await pingWithin(store, PING_TIMEOUT_MS);
    const answer: components['schemas']['Health'] = {
      status: healthy ? 'healthy' : 'unhealthy',
      version,
      store: store.kind,
      timestamp: toIso(clock()),
      request_id: requestIdOf(res),
    };
    if (!healthy) res.setHeader('Retry-After', '5');
    res.status(healthy ? 200 : 503).json(answer);
  });
  return router;
}

async function pingWithin(store: EventStore, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([store.ping().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
