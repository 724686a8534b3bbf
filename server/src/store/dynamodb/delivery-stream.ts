import { DUE_PK_PREFIX } from './item-keys';

/** An attribute value as a DynamoDB Stream record carries it (AttributeValue JSON). */
type StreamAttribute = { S?: string } | undefined;

/** Which delivery a stream record's NewImage is the record of. */
export interface DeliveryKey {
  tenantId: string;
  subscriptionId: string;
  eventId: string;
}

/**
 * The delivery a NewImage of the events table's stream is, or undefined when the item is not a
 * delivery record (an event, a chunk, a subscription, a log entry...): only delivery records
 * carry `due_pk` (webhook-item.ts, toDeliveryItem). The image is read as the stream delivers
 * it, in AttributeValue JSON (`{ "S": "..." }`), not through the document client.
 */
export function deliveryKeyOfImage(
  image: Readonly<Record<string, StreamAttribute>> | undefined,
): DeliveryKey | undefined {
  if (!image?.due_pk?.S?.startsWith(DUE_PK_PREFIX)) return undefined;
  const tenantId = image.tenant_id?.S;
  const subscriptionId = image.subscription_id?.S;
  const eventId = image.event_id?.S;
  if (tenantId === undefined || subscriptionId === undefined || eventId === undefined) return undefined;
  return { tenantId, subscriptionId, eventId };
}
