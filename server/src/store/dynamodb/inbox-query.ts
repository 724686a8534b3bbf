import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { InboxFilters, ListPendingQuery, ListPendingResult, StoredEvent } from '../event-store';
import { type InboxEntry, readInboxEntry } from './event-item';
import type { RawItem } from './item-attributes';
import { inboxSk } from './item-keys';
import { INBOX_INDEX } from './tables';

export interface InboxSource {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Index entries read per Query call when a filter may drop some of them. */
  queryPageSize: number;
  /** Query calls one page may make once it holds an event (see DynamoEventStoreOptions). */
  readBudget: number;
  /** The events themselves, read by key from the table, strongly consistent. */
  readEvents(pks: string[]): Promise<StoredEvent[]>;
}

/** The inbox sort key range of a query, both ends excluded. */
interface SortKeyBounds {
  lower?: string;
  upper?: string;
}

/** An equality filter on an attribute the index projects. */
type Equality = [attribute: string, value: string];

/**
 * One inbox page, from the sparse `inbox` index (tables.ts). The index is eventually
 * consistent and projects only what the filters read, so the page reads the events
 * themselves from the table and keeps those still pending, unexpired and matching: an event
 * acked a moment ago never reappears, and filters apply before the limit.
 */
export async function queryInbox(
  source: InboxSource,
  query: ListPendingQuery,
  now: number,
): Promise<ListPendingResult> {
  const bounds = sortKeyBounds(query);
  // An empty window (created_after not before created_before): DynamoDB refuses a BETWEEN
  // whose bounds are reversed, and both bounds are excluded anyway.
  if (bounds.lower !== undefined && bounds.upper !== undefined && bounds.lower >= bounds.upper) {
    return { events: [], hasMore: false };
  }
  const equalities = equalityFilters(query.filters);
  const input = queryInput(source.tableName, query.tenantId, bounds, equalities, now);
  // One event more than the page tells whether more exist.
  const wanted = query.limit + 1;
  const found: StoredEvent[] = [];
  let startKey: RawItem | undefined;
  let calls = 0;
  do {
    const need = wanted - found.length;
    const page = await source.client.send(
      new QueryCommand({
        ...input,
        // Without equality filters the next `need` entries are the answer (bar the rare
        // expired one); with them, the filter may drop many, so read more at once.
        Limit: equalities.length > 0 ? source.queryPageSize : need,
        ExclusiveStartKey: startKey,
      }),
    );
    calls += 1;
    let entries = (page.Items ?? []).map(readInboxEntry).filter((entry) => !isBound(entry.inbox_sk, bounds));
    startKey = page.LastEvaluatedKey;
    if (entries.length > need) {
      // Fetch only what the page needs; the next read resumes after the last one taken.
      entries = entries.slice(0, need);
      startKey = resumeAfter(entries);
    }
    // The index lags the table: read the events themselves and keep those still pending.
    const events = await source.readEvents(entries.map((entry) => entry.pk));
    for (const event of events) {
      if (event.status === 'pending' && event.expiresAt > now && matches(event, query.filters)) {
        found.push(event);
      }
    }
  } while (startKey && found.length < wanted && (found.length === 0 || calls < source.readBudget));
  found.sort(byInboxOrder);
  // Stopped by the read budget with more index left: more may match, and the cursor
  // resumes after the last event returned.
  const budgetSpent = startKey !== undefined && found.length < wanted;
  return { events: found.slice(0, query.limit), hasMore: found.length > query.limit || budgetSpent };
}

function sortKeyBounds({ filters, after }: ListPendingQuery): SortKeyBounds {
  const afterSk = after ? inboxSk(after.createdAt, after.eventId) : undefined;
  // `#` sorts below every character of an id and `\uffff` above, so these bounds fall
  // between the sort keys of one millisecond and the next.
  const fromSk =
    filters.createdAfter === undefined ? undefined : `${new Date(filters.createdAfter).toISOString()}#\uffff`;
  // The later of the two lower bounds (sort keys compare as strings).
  const lower = [afterSk, fromSk]
    .filter((bound) => bound !== undefined)
    .sort()
    .at(-1);
  const upper =
    filters.createdBefore === undefined ? undefined : `${new Date(filters.createdBefore).toISOString()}#`;
  return { lower, upper };
}

/** The filters the index can only apply after reading (its key holds just the time). */
function equalityFilters(filters: InboxFilters): Equality[] {
  const equalities: Equality[] = [];
  if (filters.source !== undefined) equalities.push(['source', filters.source]);
  if (filters.eventType !== undefined) equalities.push(['event_type', filters.eventType]);
  if (filters.priority !== undefined) equalities.push(['priority', filters.priority]);
  return equalities;
}

/** The key condition and filter of the inbox query, Limit and start key aside. */
function queryInput(
  tableName: string,
  tenantId: string,
  bounds: SortKeyBounds,
  equalities: Equality[],
  now: number,
): QueryCommandInput {
  const values: Record<string, unknown> = { ':tenant': tenantId, ':now': now };
  let keyCondition = 'inbox_pk = :tenant';
  if (bounds.lower !== undefined && bounds.upper !== undefined) {
    keyCondition += ' AND inbox_sk BETWEEN :lower AND :upper';
    values[':lower'] = bounds.lower;
    values[':upper'] = bounds.upper;
  } else if (bounds.lower !== undefined) {
    keyCondition += ' AND inbox_sk > :lower';
    values[':lower'] = bounds.lower;
  } else if (bounds.upper !== undefined) {
    keyCondition += ' AND inbox_sk < :upper';
    values[':upper'] = bounds.upper;
  }
  const conditions = ['expires_at > :now'];
  const names: Record<string, string> = {};
  for (const [attribute, value] of equalities) {
    conditions.push(`#${attribute} = :${attribute}`);
    names[`#${attribute}`] = attribute;
    values[`:${attribute}`] = value;
  }
  return {
    TableName: tableName,
    IndexName: INBOX_INDEX,
    KeyConditionExpression: keyCondition,
    FilterExpression: conditions.join(' AND '),
    ExpressionAttributeNames: equalities.length > 0 ? names : undefined,
    ExpressionAttributeValues: values,
  };
}

/** BETWEEN is inclusive; the bounds themselves (the cursor's own event) are excluded. */
function isBound(sk: string, bounds: SortKeyBounds): boolean {
  return sk === bounds.lower || sk === bounds.upper;
}

/** The index's start key that resumes after the last of `entries`. */
function resumeAfter(entries: InboxEntry[]): RawItem | undefined {
  const last = entries.at(-1);
  return last && { pk: last.pk, inbox_pk: last.inbox_pk, inbox_sk: last.inbox_sk };
}

function matches(event: StoredEvent, filters: InboxFilters): boolean {
  return (
    (filters.source === undefined || event.source === filters.source) &&
    (filters.eventType === undefined || event.eventType === filters.eventType) &&
    (filters.priority === undefined || event.priority === filters.priority) &&
    (filters.createdAfter === undefined || event.createdAt > filters.createdAfter) &&
    (filters.createdBefore === undefined || event.createdAt < filters.createdBefore)
  );
}

function byInboxOrder(a: StoredEvent, b: StoredEvent): number {
  return a.createdAt - b.createdAt || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}
