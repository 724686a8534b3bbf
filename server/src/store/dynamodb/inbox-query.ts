import type { ListPendingQuery, ListPendingResult } from '../event-store';
import {
  equalities,
  type IndexPageSource,
  matchesFilters,
  queryIndexPage,
  sortKeyBounds,
} from './index-page';
import { INBOX_KEYS } from './tables';

/**
 * One inbox page (GET /v1/inbox): available events, oldest first, from the sparse `inbox`
 * index (tables.ts). A leased event keeps its inbox entry (its lease runs out with no write
 * to take it back), so the index read drops it by its projected `available_at`; the table
 * read then drops what the lagging index still shows as pending or available.
 */
export function queryInbox(
  source: IndexPageSource,
  query: ListPendingQuery,
  now: number,
): Promise<ListPendingResult> {
  const { filters } = query;
  return queryIndexPage(source, {
    index: INBOX_KEYS,
    tenantId: query.tenantId,
    bounds: sortKeyBounds(filters, query.after, false),
    descending: false,
    equalities: equalities([
      ['source', filters.source],
      ['event_type', filters.eventType],
      ['priority', filters.priority],
    ]),
    conditions: ['expires_at > :now', 'available_at <= :now'],
    values: { ':now': now },
    limit: query.limit,
    keep: (event) =>
      event.status === 'pending' &&
      event.expiresAt > now &&
      event.availableAt <= now &&
      matchesFilters(event, filters),
  });
}
