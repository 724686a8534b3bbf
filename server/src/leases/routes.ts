import { Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import { toWireLeasedEvent } from '../events/wire';
import type { components } from '../generated/triggers';
import { requestIdOf } from '../http/request-id';
import { untilClosed } from '../long-poll';
import type { LeasesService } from './service';

type Schemas = components['schemas'];

/** Thin handlers for DESIGN §9: lease, nack, extend, redeliver (one and bulk). */
export function leasesRouter(leases: LeasesService): Router {
  const router = Router();

  // Leasing reads events and commits to ack or nack them: it needs both scopes.
  router.post(
    '/v1/inbox/lease',
    requireScope('events:read'),
    requireScope('events:ack'),
    async (req, res) => {
      // The body is optional: none at all leases with every default.
      const body = (req.body ?? {}) as Partial<Schemas['LeaseInput']>;
      const events = await leases.lease(principalOf(res), body, untilClosed(res));
      const answer: Schemas['LeaseResult'] = {
        events: events.map(toWireLeasedEvent),
        request_id: requestIdOf(res),
      };
      res.status(200).json(answer);
    },
  );

  router.post('/v1/events/bulk/redeliver', requireScope('events:ack'), async (req, res) => {
    const body = req.body as Schemas['BulkRedeliverInput'];
    const result = await leases.redeliverMany(principalOf(res), body.event_ids);
    const answer: Schemas['BulkRedeliverResult'] = {
      successful: result.successful.map((eventId) => ({ event_id: eventId, status: 'pending' })),
      failed: result.failed.map((item) => ({ event_id: item.eventId, error: item.error })),
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  router.post('/v1/events/:event_id/nack', requireScope('events:ack'), async (req, res) => {
    const body = req.body as Schemas['NackInput'];
    const nacked = await leases.nack(
      principalOf(res),
      req.params.event_id as string,
      body.lease_id,
      body.delay,
    );
    const answer: Schemas['NackResult'] = {
      event_id: nacked.eventId,
      status: nacked.status,
      delivery_count: nacked.deliveryCount,
      visible_at: nacked.visibleAt,
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  router.post('/v1/events/:event_id/extend', requireScope('events:ack'), async (req, res) => {
    const body = req.body as Schemas['ExtendInput'];
    const extended = await leases.extend(
      principalOf(res),
      req.params.event_id as string,
      body.lease_id,
      body.visibility_timeout,
    );
    const answer: Schemas['ExtendResult'] = {
      event_id: extended.eventId,
      leased_until: extended.leasedUntil,
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  router.post('/v1/events/:event_id/redeliver', requireScope('events:ack'), async (req, res) => {
    const eventId = await leases.redeliver(principalOf(res), req.params.event_id as string);
    const answer: Schemas['RedeliverResult'] = {
      event_id: eventId,
      status: 'pending',
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  return router;
}
