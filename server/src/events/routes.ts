import { type Response, Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import type { components } from '../generated/triggers';
import { requestIdOf } from '../http/request-id';
import type { CreatedEvent, EventsService } from './service';
import { toWireBulkCreated, toWireCreated, toWireEvent } from './wire';

type Schemas = components['schemas'];

/** Thin handlers: read the request, call the service, shape the answer of the contract. */
export function eventsRouter(events: EventsService): Router {
  const router = Router();

  router.post('/v1/events/bulk/ack', requireScope('events:ack'), async (req, res) => {
    const body = req.body as Schemas['BulkAckInput'];
    const result = await events.ackMany(principalOf(res), body.event_ids);
    const answer: Schemas['BulkAckResult'] = {
      successful: result.successful.map((item) => ({
        event_id: item.eventId,
        acknowledged_at: item.acknowledgedAt,
      })),
      failed: result.failed.map((item) => ({ event_id: item.eventId, error: item.error })),
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  router.post('/v1/events/bulk', requireScope('events:write'), async (req, res) => {
    const body = req.body as Schemas['BulkEventsInput'];
    const result = await events.createMany(principalOf(res), body.items, req.get('idempotency-key'));
    res.status(200).json(toWireBulkCreated(result, requestIdOf(res)));
  });

  router.post('/v1/events', requireScope('events:write'), async (req, res) => {
    const created = await events.create(
      principalOf(res),
      req.body as Schemas['EventInput'],
      req.get('idempotency-key'),
    );
    sendCreated(res, created);
  });

  router.get('/v1/events/:event_id', requireScope('events:read'), async (req, res) => {
    const event = await events.get(principalOf(res), req.params.event_id as string);
    const answer: Schemas['EventResponse'] = { ...toWireEvent(event), request_id: requestIdOf(res) };
    res.status(200).json(answer);
  });

  router.delete('/v1/events/:event_id', requireScope('events:ack'), async (req, res) => {
    await events.delete(principalOf(res), req.params.event_id as string);
    res.status(204).end();
  });

  router.post('/v1/events/:event_id/ack', requireScope('events:ack'), async (req, res) => {
    // The body is optional: without it (or without lease_id), a leased event is acked too.
    const body = req.body as Schemas['AckInput'] | undefined;
    const acked = await events.ack(principalOf(res), req.params.event_id as string, body?.lease_id);
    const answer: Schemas['AckResult'] = {
      event_id: acked.eventId,
      status: 'acknowledged',
      acknowledged_at: acked.acknowledgedAt,
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  return router;
}

/** 201 with the event's Location; a replay also says so in Idempotent-Replayed. */
export function sendCreated(res: Response, created: CreatedEvent): void {
  if (created.replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.setHeader('Location', `/v1/events/${created.eventId}`);
  res.status(201).json(toWireCreated(created, requestIdOf(res)));
}
