import type { components, operations } from './generated/triggers.js';

export type Event = components['schemas']['Event'];
type Pagination = components['schemas']['Pagination'];
export type InboxParams = Omit<NonNullable<operations['listInbox']['parameters']['query']>, 'cursor'>;
export type InboxPage = components['schemas']['InboxPage'];
/** The filters and order of `GET /v1/events`: `order` (`desc` by default), `status`, `source`, … */
export type EventListParams = Omit<NonNullable<operations['listEvents']['parameters']['query']>, 'cursor'>;
export type EventPage = components['schemas']['EventPage'];
/** The page size of `GET /v1/subscriptions` (`limit`, 1–100, default 50). */
export type SubscriptionListParams = Omit<
  NonNullable<operations['listSubscriptions']['parameters']['query']>,
  'cursor'
>;
export type SubscriptionPage = components['schemas']['SubscriptionPage'];
/** The page size of `GET /v1/subscriptions/{id}/deliveries` (`limit`, 1–100, default 50). */
export type DeliveryListParams = Omit<
  NonNullable<operations['listDeliveries']['parameters']['query']>,
  'cursor'
>;
export type DeliveryPage = components['schemas']['DeliveryPage'];

/** The most events `toArray` will gather: past this, iterate instead of holding them all. */
export const TO_ARRAY_MAX = 10_000;

/**
 * Every item of a paged list, following `next_cursor` while `has_more`, page by page, with
 * the same params on every page; `items` picks a page's list (`page.events`, …). Acknowledging
 * events while iterating the inbox is safe: the cursor is a position, so none is skipped or
 * repeated.
 */
export async function* iteratePages<Params extends object, Page extends { pagination: Pagination }, Item>(
  listPage: (params: Params & { cursor?: string }) => Promise<Page>,
  params: Params,
  items: (page: Page) => Item[],
): AsyncGenerator<Item, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await listPage(cursor === undefined ? params : { ...params, cursor });
    yield* items(page);
    cursor = page.pagination.has_more ? (page.pagination.next_cursor ?? undefined) : undefined;
  } while (cursor !== undefined);
}

/** Every pending event from the oldest: `iteratePages` over `GET /v1/inbox`. */
export function iterateInbox(
  listPage: (params: InboxParams & { cursor?: string }) => Promise<InboxPage>,
  params: InboxParams = {},
): AsyncGenerator<Event, void, undefined> {
  return iteratePages(listPage, params, (page) => page.events);
}

/** Up to `max` events (required, at most TO_ARRAY_MAX), oldest first. */
export async function collectInbox(events: AsyncIterable<Event>, max: number): Promise<Event[]> {
  if (!Number.isInteger(max) || max < 1 || max > TO_ARRAY_MAX) {
    throw new RangeError(`toArray needs a max from 1 to ${TO_ARRAY_MAX}, got ${max}`);
  }
  const collected: Event[] = [];
  for await (const event of events) {
    collected.push(event);
    if (collected.length >= max) break;
  }
  return collected;
}
