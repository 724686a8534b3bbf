import type { ListEventsQuery, ListPendingResult } from '../event-store';
import {
  equalities,
  type IndexPageSource,
  matchesFilters,
  queryIndexPage,
  sortKeyBounds,
} from './index-page';
import { EVENTS_KEYS } from './tables';

/**
 * One page of GET /v1/events: every unexpired event of the tenant whatever its status, from
 * the `events` index (tables.ts) in either direction, never a Scan. The status filter applies
 * in the index read on its projected (lagging) status, and again on the table's own.
 */
export function queryEvents(
  source: IndexPageSource,
  query: ListEventsQuery,
  now: number,
): Promise<ListPendingResult> {
  const { filters } = query;
  const descending = query.order === 'desc';
  return queryIndexPage(source, {
    index: EVENTS_KEYS,
    tenantId: query.tenantId,
    bounds: sortKeyBounds(filters, query.after, descending),
    descending,
    equalities: equalities([
      ['status', filters.status],
      ['source', filters.source],
      ['event_type', filters.eventType],
    ]),
    conditions: ['expires_at > :now'],
    values: { ':now': now },
    limit: query.limit,
    keep: (event) => event.expiresAt > now && matchesFilters(event, filters),
  });
}
