import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { PendingCounts } from '../event-store';
import { type RawItem, readString } from './item-attributes';
import { INBOX_KEYS } from './tables';

export interface PendingCountSource {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Scan calls one count may make (each reads up to 1 MB of the index): the cost bound. */
  maxScanPages: number;
  /** Index entries per Scan call; unset, as many as fit in 1 MB (tests set a few). */
  scanPageSize?: number;
}

/**
 * Pending events per tenant (EventStore.countPending). DynamoDB has no GROUP BY and the
 * indexes are partitioned by tenant, so this is a Scan of the sparse `inbox` index, which holds
 * one entry of about 200 bytes per pending event (leased ones included) and nothing else. It
 * reads every pending event's entry: 0.5 read units per 4 KB read (eventually consistent), about
 * 250 per 10,000 pending events, 128 per full 1 MB page. At most `maxScanPages` calls, so a
 * backlog of millions costs a bounded amount; past it the counts are lower bounds
 * (`complete: false`).
 * Only the long-running server's Prometheus gauge asks, at most every few seconds (see
 * prometheus/pending-gauge.ts); nothing on a request's path does.
 */
export async function countPendingByScan(
  source: PendingCountSource,
  limit: number,
  now: number,
): Promise<PendingCounts> {
  const byTenant = new Map<string, number>();
  let total = 0;
  let startKey: RawItem | undefined;
  let pages = 0;
  do {
    const page = await source.client.send(
      new ScanCommand({
        TableName: source.tableName,
        IndexName: INBOX_KEYS.name,
        ProjectionExpression: '#tenant',
        // The TTL deletes lazily: an expired event is no longer pending.
        FilterExpression: 'expires_at > :now',
        ExpressionAttributeNames: { '#tenant': INBOX_KEYS.pk },
        ExpressionAttributeValues: { ':now': now },
        ExclusiveStartKey: startKey,
        Limit: source.scanPageSize,
      }),
    );
    pages += 1;
    for (const item of page.Items ?? []) {
      const tenantId = readString(item, INBOX_KEYS.pk);
      byTenant.set(tenantId, (byTenant.get(tenantId) ?? 0) + 1);
      total += 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey && pages < source.maxScanPages);
  const top = [...byTenant]
    .map(([tenantId, pending]) => ({ tenantId, pending }))
    .sort((a, b) => b.pending - a.pending || (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0))
    .slice(0, limit);
  return { top, total, complete: startKey === undefined };
}
