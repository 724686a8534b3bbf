import { Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import { toWireEvent } from '../events/wire';
import type { components } from '../generated/triggers';
import { requestIdOf } from '../http/request-id';
import type { InboxQuery, InboxService } from './service';

export function inboxRouter(inbox: InboxService): Router {
  const router = Router();
  router.get('/v1/inbox', requireScope('events:read'), async (req, res) => {
    const page = await inbox.list(principalOf(res), req.query as unknown as InboxQuery);
    const answer: components['schemas']['InboxPage'] = {
      events: page.events.map(toWireEvent),
      pagination: { limit: page.limit, next_cursor: page.nextCursor, has_more: page.hasMore },
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });
  return router;
}
