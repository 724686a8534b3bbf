import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ClaimedDelivery, ClaimQuery } from '../webhook-store';
import type { RawItem } from './item-attributes';
import { DUE_SHARDS, dueShardPk, dueSk } from './item-keys';
import { DUE_KEYS } from './tables';
import { type DueEntry, readClaimedDelivery, readDueEntry } from './webhook-item';

export interface ClaimSource {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Index entries read per Query call of a shard after the first round. */
  queryPageSize: number;
  /** Rounds of Query calls (one per shard each) one claim may make at most. */
  readBudget: number;
}

/**
 * WebhookStore.claimDue, as lease.ts leases events. Candidates come from the sparse `due`
 * index (tables.ts), read up to `{now ISO}#\uffff` only: a claimed record's key starts at its
 * claim's end, in the future, so a claim never reads one. The index is split into DUE_SHARDS
 * partitions; each round queries every shard from where it stopped, and the candidates are
 * tried in due order. In the first round each shard is read for as many records as are
 * wanted, so, uncontended, the claim takes exactly the earliest due ones.
 *
 * Each candidate is taken by one conditional UpdateItem on the table, whose condition
 * re-checks what the lagging index showed: still there, due, and the claim the index showed
 * (or none) still the current one. It sets a new claim id and moves the record (and its
 * index key) to the claim's end, so a claim whose deliverer died comes back by itself. A
 * failed condition means another claim (or a finished attempt) got there first: the claim
 * moves on to the next candidates, within `readBudget` rounds.
 */
export async function claimDueDeliveries(
  source: ClaimSource,
  query: ClaimQuery,
  now: number,
): Promise<ClaimedDelivery[]> {
  const shards = Array.from(
    { length: DUE_SHARDS },
    (_, shard): ShardCursor => ({
      pk: dueShardPk(shard),
      done: false,
    }),
  );
  const claimed: ClaimedDelivery[] = [];
  let failure: { reason: unknown } | undefined;
  for (let round = 0; round < source.readBudget && claimed.length < query.limit && !failure; round += 1) {
    const open = shards.filter((shard) => !shard.done);
    if (open.length === 0) break;
    const wanted = query.limit - claimed.length;
    const pages = await Promise.all(
      open.map(async (shard) => {
        const page = await source.client.send(
          new QueryCommand({
            TableName: source.tableName,
            IndexName: DUE_KEYS.name,
            KeyConditionExpression: 'due_pk = :shard AND due_sk <= :upTo',
            ExpressionAttributeValues: {
              ':shard': shard.pk,
              ':upTo': `${new Date(now).toISOString()}#\uffff`,
            },
            // At first just what is wanted; more once a round came short (contention, skips).
            Limit: round === 0 ? wanted : Math.max(wanted, source.queryPageSize),
            ExclusiveStartKey: shard.startKey,
          }),
        );
        shard.startKey = page.LastEvaluatedKey;
        shard.done = page.LastEvaluatedKey === undefined;
        return (page.Items ?? []).map(readDueEntry);
      }),
    );
    const candidates = pages
      .flat()
      .filter((entry) => !query.skipSubscriptions?.has(entry.subscription_id))
      .sort((a, b) => (a.due_sk < b.due_sk ? -1 : a.due_sk > b.due_sk ? 1 : 0));
    for (let next = 0; next < candidates.length && claimed.length < query.limit; ) {
      // Never more writes at once than deliveries still wanted: a batch cannot overshoot.
      const batch = candidates.slice(next, next + query.limit - claimed.length);
      next += batch.length;
      // Settled, not all: one write failing must not throw away the claims its neighbours
      // took, which would stay hidden until their claims ran out.
      const results = await Promise.allSettled(batch.map((entry) => claimOne(source, entry, query, now)));
      for (const result of results) {
        if (result.status === 'rejected') failure ??= { reason: result.reason };
        else if (result.value !== undefined) claimed.push(result.value);
      }
      if (failure) break;
    }
  }
  // Nothing claimed: the failure is the answer; else what was claimed.
  if (failure && claimed.length === 0) throw failure.reason;
  return claimed;
}

/** Where the reading of one shard of the `due` index stands. */
interface ShardCursor {
  pk: string;
  startKey?: RawItem;
  done: boolean;
}

/** Claims one candidate; undefined when another claim or a finished attempt came first. */
function claimOne(
  source: ClaimSource,
  entry: DueEntry,
  query: ClaimQuery,
  now: number,
): Promise<ClaimedDelivery | undefined> {
  return claimRecord(source, entry.pk, query.claimMs, now, { claimId: entry.claim_id });
}

/**
 * WebhookStore.claim: one record by its key, due now whatever claim it had (a live claim
 * keeps next_attempt_at in the future, so `due` alone refuses it). No index read.
 */
export function claimDeliveryRecord(
  source: Pick<ClaimSource, 'client' | 'tableName'>,
  pk: string,
  claimMs: number,
  now: number,
): Promise<ClaimedDelivery | undefined> {
  return claimRecord(source, pk, claimMs, now, 'any');
}

/**
 * The conditional UpdateItem of a claim: the record still exists (a delivery record: it has
 * `due_pk`), is due, and, when `seen` says so, still carries the claim the index showed (or
 * none). It sets a new claim id and moves the record (and its `due` key) to the claim's end.
 */
async function claimRecord(
  source: Pick<ClaimSource, 'client' | 'tableName'>,
  pk: string,
  claimMs: number,
  now: number,
  seen: { claimId: string | undefined } | 'any',
): Promise<ClaimedDelivery | undefined> {
  const claimId = randomUUID();
  const claimedUntil = now + claimMs;
  const Key = { pk };
  const claimCondition =
    seen === 'any'
      ? ''
      : seen.claimId === undefined
        ? ' AND attribute_not_exists(claim_id)'
        : ' AND claim_id = :seen';
  try {
    const result = await source.client.send(
      new UpdateCommand({
        TableName: source.tableName,
        Key,
        UpdateExpression: 'SET claim_id = :claim, next_attempt_at = :until, due_sk = :sk',
        ConditionExpression: `attribute_exists(due_pk) AND next_attempt_at <= :now${claimCondition}`,
        ExpressionAttributeValues: {
          ':claim': claimId,
          ':until': claimedUntil,
          ':sk': dueSk(claimedUntil, pk),
          ':now': now,
          ...(seen !== 'any' && seen.claimId !== undefined ? { ':seen': seen.claimId } : {}),
        },
        ReturnValues: 'ALL_NEW',
        // Free with the failure: tells a lost answer (below) without another read.
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    if (!result.Attributes) throw new Error(`UpdateItem with ALL_NEW returned no item for ${pk}`);
    return readClaimedDelivery(result.Attributes);
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // Our own write landed on an attempt whose answer was lost, and the SDK's retry failed
    // the condition: the record is ours (the claim id is new to this call).
    if (error.Item?.claim_id?.S === claimId) return readOwnClaim(source, Key, claimId);
    return undefined;
  }
}

async function readOwnClaim(
  source: Pick<ClaimSource, 'client' | 'tableName'>,
  Key: RawItem,
  claimId: string,
): Promise<ClaimedDelivery | undefined> {
  const result = await source.client.send(
    new GetCommand({ TableName: source.tableName, Key, ConsistentRead: true }),
  );
  // Finished or claimed again since? Then it is no longer ours to hand out.
  return result.Item?.claim_id === claimId ? readClaimedDelivery(result.Item) : undefined;
}
