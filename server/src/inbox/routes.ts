import { Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import { toWireEvent } from '../events/wire';
import type { components } from '../generated/triggers';
import { requestIdOf } from '../http/request-id';
import { untilClosed } from '../long-poll';
import type { EventsQuery, InboxPage, InboxQuery, InboxService } from './service';

type EventPage = components['schemas']['EventPage'];

export function inboxRouter(inbox: InboxService): Router {
  const router = Router();
  router.get('/v1/inbox', requireScope('events:read'), async (req, res) => {
    const page = await inbox.list(principalOf(res), req.query as unknown as InboxQuery, untilClosed(res));
    res.status(200).json(toWirePage(page, requestIdOf(res)));
  });
  router.get('/v1/events', requireScope('events:read'), async (req, res) => {
    const page = await inbox.listEvents(principalOf(res), req.query as unknown as EventsQuery);
    res.status(200).json(toWirePage(page, requestIdOf(res)));
  });
  return router;
}

function toWirePage(page: InboxPage, requestId: string): EventPage {
  return {
    events: page.events.map(toWireEvent),
    pagination: { limit: page.limit, next_cursor: page.nextCursor, has_more: page.hasMore },
    request_id: requestId,
  };
}
