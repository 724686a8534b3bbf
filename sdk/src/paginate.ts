import type { components, operations } from './generated/triggers.js';

export type Event = components['schemas']['Event'];
export type InboxParams = Omit<NonNullable<operations['listInbox']['parameters']['query']>, 'cursor'>;
export type InboxPage = components['schemas']['InboxPage'];
/** The filters and order of `GET /v1/events`: `order` (`desc` by default), `status`, `source`, … */
export type EventListParams = Omit<NonNullable<operations['listEvents']['parameters']['query']>, 'cursor'>;
export type EventPage = components['schemas']['EventPage'];

/** The most events `toArray` will gather: past this, iterate instead of holding them all. */
export const TO_ARRAY_MAX = 10_000;

/**
 * Every event of a paged list, following `next_cursor` while `has_more`, page by page, with
 * the same params on every page. Acknowledging events while iterating the inbox is safe: the
 * cursor is a position, so none is skipped or repeated.
 */
export async function* iteratePages<Params extends object>(
  listPage: (params: Params & { cursor?: string }) => Promise<EventPage>,
  params: Params,
): AsyncGenerator<Event, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await listPage(cursor === undefined ? params : { ...params, cursor });
    yield* page.events;
    cursor = page.pagination.has_more ? (page.pagination.next_cursor ?? undefined) : undefined;
  } while (cursor !== undefined);
}

/** Every pending event from the oldest: `iteratePages` over `GET /v1/inbox`. */
export function iterateInbox(
  listPage: (params: InboxParams & { cursor?: string }) => Promise<InboxPage>,
  params: InboxParams = {},
): AsyncGenerator<Event, void, undefined> {
  return iteratePages(listPage, params);
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
