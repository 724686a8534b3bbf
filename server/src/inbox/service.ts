import type { FormatDefinition } from 'ajv';
import { fullFormats } from 'ajv-formats/dist/formats';
import stringify from 'safe-stable-stringify';
import type { Principal } from '../auth/principal';
import { ValidationError } from '../errors';
import type { operations } from '../generated/triggers';
import type { LongPoll } from '../long-poll';
import type { CursorCodec, CursorScope } from '../store/cursor';
import type {
  EventStore,
  InboxFilters,
  ListEventsFilters,
  ListPendingResult,
  StoredEvent,
} from '../store/event-store';

export type InboxQuery = NonNullable<operations['listInbox']['parameters']['query']>;
export type EventsQuery = NonNullable<operations['listEvents']['parameters']['query']>;

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;
export const MAX_WAIT_SECONDS = 20;

export interface InboxPage {
  events: StoredEvent[];
  limit: number;
  nextCursor: string | null;
  hasMore: boolean;
}

/**
 * Pages through a tenant's events with cursors bound to the tenant, the filters and (for the
 * event list) the order: the inbox (available events, oldest first, optionally waiting for
 * one) and the event list (every status, newest first by default, changes nothing).
 */
export class InboxService {
  constructor(
    private readonly store: EventStore,
    private readonly cursors: CursorCodec,
    private readonly longPoll: LongPoll,
  ) {}

  /**
   * With `wait` and no cursor, a first page that would be empty waits for an event (long
   * polling); a later page never waits, it answers what is there. `cancel`: the client left.
   */
  async list(principal: Principal, query: InboxQuery, cancel?: AbortSignal): Promise<InboxPage> {
    const limit = pageLimit(query.limit);
    const wait = waitOf(query.wait);
    const filters: InboxFilters = {
      source: query.source?.trim(),
      eventType: query.event_type?.trim(),
      priority: query.priority,
      createdAfter: parseTime('created_after', query.created_after),
      createdBefore: parseTime('created_before', query.created_before),
    };
    const scope = { tenantId: principal.tenantId, filters: stringify(filters) ?? '' };
    const after = query.cursor === undefined ? undefined : this.cursors.decode(query.cursor, scope);
    const read = () => this.store.listPending({ tenantId: principal.tenantId, filters, limit, after });
    const waitSeconds = after === undefined ? wait : 0;
    const page = (await this.longPoll.wait(
      { tenantId: principal.tenantId, keyId: principal.keyId, seconds: waitSeconds, cancel },
      async () => {
        const found = await read();
        return found.events.length > 0 || waitSeconds === 0 ? found : undefined;
      },
    )) ?? { events: [], hasMore: false };
    return this.page(scope, limit, page);
  }

  /** GET /v1/events: every unexpired event, any status, in `order` (newest first by default). */
  async listEvents(principal: Principal, query: EventsQuery): Promise<InboxPage> {
    const limit = pageLimit(query.limit);
    const order = query.order ?? 'desc';
    const filters: ListEventsFilters = {
      status: query.status,
      source: query.source?.trim(),
      eventType: query.event_type?.trim(),
      createdAfter: parseTime('created_after', query.created_after),
      createdBefore: parseTime('created_before', query.created_before),
    };
    // `list` keeps these cursors apart from inbox cursors (whose filters never hold it), and
    // `order` binds a cursor to its direction: a position means nothing in the other one.
    const scope = {
      tenantId: principal.tenantId,
      filters: stringify({ list: 'events', order, filters }) ?? '',
    };
    const after = query.cursor === undefined ? undefined : this.cursors.decode(query.cursor, scope);
    const page = await this.store.listEvents({ tenantId: principal.tenantId, filters, order, limit, after });
    return this.page(scope, limit, page);
  }

  private page(scope: CursorScope, limit: number, page: ListPendingResult): InboxPage {
    const last = page.events.at(-1);
    return {
      events: page.events,
      limit,
      hasMore: page.hasMore,
      nextCursor: page.hasMore && last ? this.cursors.encode(scope, last) : null,
    };
  }
}

/** Long-poll seconds; like `limit`, `wait=1e400` reaches here as Infinity past the validator. */
function waitOf(given: number | undefined): number {
  const wait = given ?? 0;
  if (!Number.isSafeInteger(wait) || wait < 0 || wait > MAX_WAIT_SECONDS) {
    throw new ValidationError(`wait must be an integer from 0 to ${MAX_WAIT_SECONDS}.`, [
      { path: '/query/wait', message: `must be an integer from 0 to ${MAX_WAIT_SECONDS}` },
    ]);
  }
  return wait;
}

export function pageLimit(given: number | undefined): number {
  const limit = given ?? DEFAULT_PAGE_SIZE;
  // The validator coerces `limit=Infinity` to a number that passes its range check.
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}.`, [
      { path: '/query/limit', message: `must be an integer from 1 to ${MAX_PAGE_SIZE}` },
    ]);
  }
  return limit;
}

/**
 * RFC 3339 checked in full: the validator's fast format check lets a 30 February or a 24:00
 * through, and Date.parse would quietly read them as 2 March or the next day.
 */
const isDateTime = (fullFormats['date-time'] as FormatDefinition<string>).validate as (
  text: string,
) => boolean;

/**
 * Epoch ms of a date-time filter. The contract's format admits values JavaScript cannot
 * place on its clock (a leap second such as 23:59:60): those are refused, not guessed.
 */
function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = isDateTime(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new ValidationError(`${name} is not a time this server can read: ${value}.`, [
      { path: `/query/${name}`, message: 'must be a valid ISO 8601 date-time' },
    ]);
  }
  return time;
}
