import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type {
  InboxFilters,
  InboxPosition,
  ListEventsFilters,
  ListPendingResult,
  StoredEvent,
} from '../event-store';
import { type IndexEntry, readIndexEntry } from './event-item';
import type { RawItem } from './item-attributes';
import { inboxSk } from './item-keys';
import type { IndexKeys } from './tables';

export interface IndexPageSource {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Index entries read per Query call when a filter may drop some of them. */
  queryPageSize: number;
  /** Query calls one page may make once it holds an event (see DynamoEventStoreOptions). */
  readBudget: number;
  /** The events themselves, read by key from the table, strongly consistent. */
  readEvents(pks: string[]): Promise<StoredEvent[]>;
}

/** A sort key range of a query, both ends excluded. */
export interface SortKeyBounds {
  lower?: string;
  upper?: string;
}

/** An equality filter on an attribute the index projects. */
export type Equality = [attribute: string, value: string];

/** One page of events read through a tenant-partitioned index sorted by `{created_at}#{id}`. */
export interface IndexPageQuery {
  index: IndexKeys;
  tenantId: string;
  bounds: SortKeyBounds;
  descending: boolean;
  /** Equalities on projected attributes, applied in the index read. */
  equalities: Equality[];
  /** More conditions on projected attributes, written with the values below. */
  conditions: string[];
  values: Record<string, unknown>;
  limit: number;
  /** Whether an event, as the table holds it now, belongs on the page. */
  keep(event: StoredEvent): boolean;
}

/**
 * One page through an index (inbox-query.ts, events-query.ts). The indexes are eventually
 * consistent and project only what the filters read, so the page reads the events themselves
 * from the table and keeps those that `keep` still accepts: an event acked a moment ago never
 * shows as pending, and filters apply before the limit. hasMore is exact (one event more than
 * the page is looked for), and a page is never empty while hasMore.
 */
export async function queryIndexPage(
  source: IndexPageSource,
  query: IndexPageQuery,
): Promise<ListPendingResult> {
  const { bounds } = query;
  // An empty window (created_after not before created_before): DynamoDB refuses a BETWEEN
  // whose bounds are reversed, and both bounds are excluded anyway.
  if (bounds.lower !== undefined && bounds.upper !== undefined && bounds.lower >= bounds.upper) {
    return { events: [], hasMore: false };
  }
  const input = queryInput(source.tableName, query);
  const filtered = query.equalities.length > 0;
  const wanted = query.limit + 1;
  const found: StoredEvent[] = [];
  let startKey: RawItem | undefined;
  let calls = 0;
  do {
    const need = wanted - found.length;
    const page = await source.client.send(
      new QueryCommand({
        ...input,
        // Unfiltered, the next `need` entries are the answer but for the few the conditions
        // or the table drop; once a read has come short, or with equality filters that may
        // drop many, read more at once.
        Limit: filtered || calls > 0 ? source.queryPageSize : need,
        ExclusiveStartKey: startKey,
      }),
    );
    calls += 1;
    let entries = (page.Items ?? [])
      .map((item) => readIndexEntry(item, query.index))
      .filter((entry) => !isBound(entry.sk, bounds));
    startKey = page.LastEvaluatedKey;
    if (entries.length > need) {
      // Fetch only what the page needs; the next read resumes after the last one taken.
      entries = entries.slice(0, need);
      startKey = resumeAfter(query.index, entries);
    }
    const events = await source.readEvents(entries.map((entry) => entry.pk));
    found.push(...events.filter((event) => query.keep(event)));
  } while (startKey && found.length < wanted && (found.length === 0 || calls < source.readBudget));
  found.sort(query.descending ? (a, b) => byCreation(b, a) : byCreation);
  // Stopped by the read budget with more index left: more may match, and the cursor
  // resumes after the last event returned.
  const budgetSpent = startKey !== undefined && found.length < wanted;
  return { events: found.slice(0, query.limit), hasMore: found.length > query.limit || budgetSpent };
}

/**
 * The sort key range of a page: the created_at window and the cursor (`after`, strictly, in
 * the page's direction: below it when descending).
 */
export function sortKeyBounds(
  window: { createdAfter?: number; createdBefore?: number },
  after: InboxPosition | undefined,
  descending: boolean,
): SortKeyBounds {
  const afterSk = after ? inboxSk(after.createdAt, after.eventId) : undefined;
  // `#` sorts below every character of an id and `\uffff` above, so these bounds fall
  // between the sort keys of one millisecond and the next.
  const fromSk =
    window.createdAfter === undefined ? undefined : `${new Date(window.createdAfter).toISOString()}#\uffff`;
  const toSk =
    window.createdBefore === undefined ? undefined : `${new Date(window.createdBefore).toISOString()}#`;
  // The tighter of each pair of bounds (sort keys compare as strings).
  const lower = [fromSk, descending ? undefined : afterSk]
    .filter((bound) => bound !== undefined)
    .sort()
    .at(-1);
  const upper = [toSk, descending ? afterSk : undefined].filter((bound) => bound !== undefined).sort()[0];
  return { lower, upper };
}

/** The equalities among `pairs` whose value is set (an unset filter matches everything). */
export function equalities(pairs: Array<[attribute: string, value: string | undefined]>): Equality[] {
  return pairs.flatMap(([attribute, value]): Equality[] => (value === undefined ? [] : [[attribute, value]]));
}

/** `conditions` and the equalities as one FilterExpression, with its names and values. */
export function filterExpression(
  conditions: string[],
  equalityFilters: Equality[],
  values: Record<string, unknown>,
): Pick<QueryCommandInput, 'FilterExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
  const all = [...conditions];
  const names: Record<string, string> = {};
  const allValues = { ...values };
  for (const [attribute, value] of equalityFilters) {
    // Names for every attribute: `status` is one of DynamoDB's reserved words.
    all.push(`#${attribute} = :${attribute}`);
    names[`#${attribute}`] = attribute;
    allValues[`:${attribute}`] = value;
  }
  return {
    FilterExpression: all.length > 0 ? all.join(' AND ') : undefined,
    ExpressionAttributeNames: equalityFilters.length > 0 ? names : undefined,
    ExpressionAttributeValues: allValues,
  };
}

/** The key condition and filter of the page's query, Limit and start key aside. */
function queryInput(tableName: string, query: IndexPageQuery): QueryCommandInput {
  const { index, bounds } = query;
  const values: Record<string, unknown> = { ...query.values, ':tenant': query.tenantId };
  let keyCondition = `${index.pk} = :tenant`;
  if (bounds.lower !== undefined && bounds.upper !== undefined) {
    keyCondition += ` AND ${index.sk} BETWEEN :lower AND :upper`;
    values[':lower'] = bounds.lower;
    values[':upper'] = bounds.upper;
  } else if (bounds.lower !== undefined) {
    keyCondition += ` AND ${index.sk} > :lower`;
    values[':lower'] = bounds.lower;
  } else if (bounds.upper !== undefined) {
    keyCondition += ` AND ${index.sk} < :upper`;
    values[':upper'] = bounds.upper;
  }
  return {
    TableName: tableName,
    IndexName: index.name,
    KeyConditionExpression: keyCondition,
    ScanIndexForward: !query.descending,
    ...filterExpression(query.conditions, query.equalities, values),
  };
}

/** BETWEEN is inclusive; the bounds themselves (the cursor's own event) are excluded. */
function isBound(sk: string, bounds: SortKeyBounds): boolean {
  return sk === bounds.lower || sk === bounds.upper;
}

/** The index's start key that resumes after the last of `entries`. */
function resumeAfter(index: IndexKeys, entries: IndexEntry[]): RawItem | undefined {
  const last = entries.at(-1);
  return last && { pk: last.pk, [index.pk]: last.indexPk, [index.sk]: last.sk };
}

/** Whether the event, as the table holds it, passes the page's filters (unset ones pass all). */
export function matchesFilters(event: StoredEvent, filters: InboxFilters & ListEventsFilters): boolean {
  return (
    (filters.status === undefined || event.status === filters.status) &&
    (filters.source === undefined || event.source === filters.source) &&
    (filters.eventType === undefined || event.eventType === filters.eventType) &&
    (filters.priority === undefined || event.priority === filters.priority) &&
    (filters.createdAfter === undefined || event.createdAt > filters.createdAfter) &&
    (filters.createdBefore === undefined || event.createdAt < filters.createdBefore)
  );
}

function byCreation(a: StoredEvent, b: StoredEvent): number {
  return a.createdAt - b.createdAt || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}
