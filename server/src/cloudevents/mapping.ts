import { createHash } from 'node:crypto';
import { ValidationError } from '../errors';
import type { components } from '../generated/triggers';
import type { CloudEvent } from './parse';

type EventInput = components['schemas']['EventInput'];
type CloudEventAttributes = components['schemas']['CloudEventAttributes'];

/**
 * The idempotency key of a CloudEvent: CloudEvents makes `source` + `id` unique, so sending
 * the same event again is a replay. Hashed, so that it fits the 255-character key whatever
 * the lengths of source and id; of their JSON array, so that no two pairs share the text
 * hashed ("a\nb" + "c" is not "a" + "b\nc"); prefixed, so that no native key a client would
 * choose collides with it. Scoped per tenant like any key.
 */
export function cloudEventKey(source: string, id: string): string {
  return `ce:${createHash('sha256')
    .update(JSON.stringify([source, id]))
    .digest('base64url')}`;
}

/**
 * The event a CloudEvent becomes: `source` ← source, `event_type` ← type, `payload` ← data,
 * `metadata.cloudevents` ← every other attribute as sent (id and specversion included, so
 * the CloudEvent can be told and rebuilt), and its derived idempotency key.
 *
 * An Idempotency-Key header may come too, as with a native event whose metadata names a
 * key: both given and different is a 400, since the event can have only one key.
 */
export function toEventInput(event: CloudEvent, headerKey?: string): EventInput {
  const { source, type, data, ...attributes } = event;
  const key = cloudEventKey(source, event.id);
  if (headerKey !== undefined && headerKey !== key) {
    throw new ValidationError(
      "A CloudEvent's idempotency key comes from its source and id: send it without the Idempotency-Key header.",
      [
        {
          path: '/headers/idempotency-key',
          message: `must be left out for a CloudEvent (its key is ${key})`,
        },
      ],
    );
  }
  return {
    source,
    event_type: type,
    payload: data,
    metadata: { cloudevents: inSpecOrder(attributes), idempotency_key: key },
  };
}

const SPEC_ORDER = ['id', 'specversion', 'subject', 'time', 'datacontenttype', 'dataschema'];

/**
 * The attributes as the CloudEvents spec lists them, then extensions by name: the same
 * event reads the same whatever the order of its JSON or headers (the idempotency hash
 * sorts keys anyway).
 */
function inSpecOrder(attributes: Record<string, unknown>): CloudEventAttributes {
  const rank = (name: string) => {
    const index = SPEC_ORDER.indexOf(name);
    return index < 0 ? SPEC_ORDER.length : index;
  };
  const names = Object.keys(attributes).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(names.map((name) => [name, attributes[name]])) as CloudEventAttributes;
}
