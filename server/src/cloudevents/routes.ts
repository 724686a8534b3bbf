import { type RequestHandler, Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import { sendCreated } from '../events/routes';
import type { EventsService } from '../events/service';
import { toWireBulkCreated } from '../events/wire';
import { requestIdOf } from '../http/request-id';
import { toEventInput } from './mapping';
import {
  CLOUDEVENT_BATCH_MEDIA_TYPE,
  CLOUDEVENT_MEDIA_TYPE,
  type CloudEvent,
  type CloudEventReader,
  checkBatch,
  fromBinaryMode,
  isBinaryMode,
  structuredShape,
} from './parse';

/**
 * Before the request validator: recognises the CloudEvents modes of the two ingest
 * operations and says what to fix in CloudEvents terms. A binary-mode request becomes its
 * structured equivalent (body and Content-Type), because express-openapi-validator picks
 * the body schema by Content-Type, and binary mode's `application/json` body is `data`, not
 * an EventInput: the validator then checks it against the contract's CloudEvent, and its
 * ce-* headers against the parameters the operation documents.
 */
export function cloudEventsIn(reader: CloudEventReader): RequestHandler {
  return (req, _res, next) => {
    if (req.method !== 'POST') return next();
    if (req.path === '/v1/events') {
      if (req.is(CLOUDEVENT_MEDIA_TYPE)) {
        reader.read(req.body);
      } else if (isBinaryMode(req.headers) && !req.is(CLOUDEVENT_BATCH_MEDIA_TYPE)) {
        const jsonBody = req.is('application/json') ? req.body : undefined;
        const { event, shape } = fromBinaryMode(req.headers, jsonBody);
        req.body = reader.read(event, shape);
        req.headers['content-type'] = CLOUDEVENT_MEDIA_TYPE;
      }
    } else if (req.path === '/v1/events/bulk' && req.is(CLOUDEVENT_BATCH_MEDIA_TYPE)) {
      checkBatch(req.body);
    }
    next();
  };
}

/**
 * The CloudEvents forms of the two ingest operations, on the native ingest of EventsService:
 * each CloudEvent is mapped to the event it stands for (mapping.ts), and answered as one.
 */
export function cloudEventsRouter(events: EventsService, reader: CloudEventReader): Router {
  const router = Router();
  const only =
    (mediaType: string): RequestHandler =>
    (req, _res, next) => {
      next(req.is(mediaType) ? undefined : 'route');
    };

  router.post(
    '/v1/events/bulk',
    only(CLOUDEVENT_BATCH_MEDIA_TYPE),
    requireScope('events:write'),
    async (req, res) => {
      // Each CloudEvent has its own key, derived from source and id: no item falls back on
      // an Idempotency-Key header.
      const result = await events.createMany(
        principalOf(res),
        req.body as unknown[],
        undefined,
        (item, index) => toEventInput(reader.read(item, structuredShape(`/body/${index}`))),
      );
      res.status(200).json(toWireBulkCreated(result, requestIdOf(res)));
    },
  );

  router.post('/v1/events', only(CLOUDEVENT_MEDIA_TYPE), requireScope('events:write'), async (req, res) => {
    const input = toEventInput(req.body as CloudEvent, req.get('idempotency-key'));
    sendCreated(res, await events.create(principalOf(res), input));
  });

  return router;
}
