import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../clock';
import {
  type AttemptPage,
  type AttemptResult,
  type ClaimedDelivery,
  type ClaimQuery,
  type CreateSubscriptionOutcome,
  type DisabledReason,
  endedByDisabling,
  FAILING_DISABLE_MS,
  type FinishOutcome,
  MAX_SUBSCRIPTIONS_PER_TENANT,
  type PagePosition,
  type StoredSubscription,
  type SubscriptionPage,
  type WebhookStore,
} from '../webhook-store';
import { type RetryPolicy, retryDelay } from './backoff';
import { type BatchTarget, batchDeleteByPk, batchGetByPk, UNPROCESSED_RETRY } from './batch';
import { type ClaimSource, claimDeliveryRecord, claimDueDeliveries } from './claim-deliveries';
import { cancellationReasons, TRANSACTION_CONFLICT_RETRY } from './create-event';
import { withDynamoFaults } from './errors';
import type { RawItem } from './item-attributes';
import {
  ATTEMPT_SK_PREFIX,
  attemptId,
  attemptSk,
  DUE_SHARDS,
  deliveryPk,
  deliverySk,
  dueShardPk,
  dueSk,
  registryEntryName,
  registryPk,
  subscriptionIndexPk,
  subscriptionPk,
} from './item-keys';
import { readTenantRegistry } from './subscription-registry';
import { DUE_KEYS, SUBSCRIPTION_KEYS } from './tables';
import {
  readAttempt,
  readSubscription,
  toAttemptItem,
  toRegistryEntry,
  toSubscriptionItem,
} from './webhook-item';

export interface DynamoWebhookStoreOptions {
  client: DynamoDBDocumentClient;
  /** The events table: delivery records are written with their events (create-event.ts). */
  tableName: string;
  clock: Clock;
  /** Index entries read per Query call once a first read came short. */
  queryPageSize?: number;
  /** Rounds of Query calls one claim may make at most (see claim-deliveries.ts). */
  claimReadBudget?: number;
  /** How batch reads and deletes resend what DynamoDB left unprocessed (see batch.ts). */
  unprocessedRetry?: Partial<RetryPolicy>;
}

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * The WebhookStore on DynamoDB, in the events table (layout in tables.ts, items in
 * webhook-item.ts). Subscriptions are items of their own plus an entry in their tenant's
 * registry item, which creates read to find the deliveries they write
 * (subscription-registry.ts) and which lists, counts and bounds a tenant's subscriptions.
 * Delivery records are claimed through the sharded `due` index (claim-deliveries.ts); a
 * subscription's records and its log are found through the `subscription` index.
 *
 * What cannot be one write here: dropping a subscription's pending deliveries, when it is
 * deleted or disabled, is a Query and batch deletes after the write that removed or disabled
 * it (a transaction holds 100 items at most; a failing subscription may have thousands). A
 * record that escapes (a crash in between, or the index lagging) belongs to a subscription
 * that is gone or disabled: its claim ends in `claim_lost` and the record is dropped then.
 */
export class DynamoWebhookStore implements WebhookStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;
  private readonly batches: BatchTarget;
  private readonly claims: ClaimSource;
  private readonly queryPageSize: number;

  constructor(options: DynamoWebhookStoreOptions) {
    const { client, tableName, clock } = options;
    this.client = client;
    this.tableName = tableName;
    this.clock = clock;
    this.queryPageSize = options.queryPageSize ?? 200;
    this.batches = { client, tableName, retry: { ...UNPROCESSED_RETRY, ...options.unprocessedRetry } };
    this.claims = {
      client,
      tableName,
      queryPageSize: this.queryPageSize,
      readBudget: options.claimReadBudget ?? 20,
    };
  }

  /**
   * One transaction: the subscription's item (`attribute_not_exists`) and its registry entry,
   * whose condition holds the tenant's count under MAX_SUBSCRIPTIONS_PER_TENANT.
   */
  createSubscription(subscription: StoredSubscription): Promise<CreateSubscriptionOutcome> {
    const { tenantId, subscriptionId } = subscription;
    return withDynamoFaults(async () => {
      const items: TransactItem[] = [
        {
          Put: {
            TableName: this.tableName,
            Item: toSubscriptionItem(subscription),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Update: {
            TableName: this.tableName,
            Key: { pk: registryPk(tenantId) },
            UpdateExpression:
              'SET #entry = :entry, #count = if_not_exists(#count, :zero) + :one, ' +
              '#version = if_not_exists(#version, :zero) + :one',
            ConditionExpression:
              'attribute_not_exists(#entry) AND (attribute_not_exists(#count) OR #count < :max)',
            ExpressionAttributeNames: {
              '#entry': registryEntryName(subscriptionId),
              '#count': 'subscription_count',
              '#version': 'version',
            },
            ExpressionAttributeValues: {
              ':entry': toRegistryEntry(subscription),
              ':zero': 0,
              ':one': 1,
              ':max': MAX_SUBSCRIPTIONS_PER_TENANT,
            },
          },
        },
      ];
      const failed = await this.transact(items);
      // The item exists: its id is fresh, so this is our own write, landed on an attempt
      // whose answer was lost.
      if (failed === undefined || failed[0]) return { kind: 'created' };
      if (failed[1]) return { kind: 'limit_reached', limit: MAX_SUBSCRIPTIONS_PER_TENANT };
      throw new Error(`creating subscription ${subscriptionId} failed a condition it does not have`);
    });
  }

  getSubscription(tenantId: string, subscriptionId: string): Promise<StoredSubscription | undefined> {
    return withDynamoFaults(() => this.readSubscription(tenantId, subscriptionId));
  }

  /** Ordered and paged from the registry, then the page's items read by key (both consistent). */
  listSubscriptions(tenantId: string, limit: number, after?: PagePosition): Promise<SubscriptionPage> {
    return withDynamoFaults(async () => {
      const registry = await readTenantRegistry(this.batches, tenantId);
      const ordered = registry.entries
        .sort((a, b) => b.createdAt - a.createdAt || compare(b.subscriptionId, a.subscriptionId))
        .filter(
          (entry) =>
            after === undefined ||
            entry.createdAt < after.at ||
            (entry.createdAt === after.at && entry.subscriptionId < after.id),
        );
      const page = ordered.slice(0, limit);
      const items = await batchGetByPk(
        this.batches,
        page.map((entry) => subscriptionPk(tenantId, entry.subscriptionId)),
      );
      const byId = new Map(items.map(readSubscription).map((sub) => [sub.subscriptionId, sub]));
      return {
        // One deleted between the two reads is left out.
        subscriptions: page.flatMap((entry) => byId.get(entry.subscriptionId) ?? []),
        hasMore: ordered.length > limit,
      };
    });
  }

  /**
   * One transaction removes the item and the registry entry: from then on no create writes a
   * delivery for it. Its delivery records and log are deleted after, also when the
   * subscription was gone already (a retry after a crash in between finishes the job).
   */
  deleteSubscription(tenantId: string, subscriptionId: string): Promise<void> {
    return withDynamoFaults(async () => {
      await this.transact([
        { Delete: { TableName: this.tableName, Key: { pk: subscriptionPk(tenantId, subscriptionId) } } },
        {
          Update: {
            TableName: this.tableName,
            Key: { pk: registryPk(tenantId) },
            UpdateExpression: 'REMOVE #entry SET #count = #count - :one, #version = #version + :one',
            ConditionExpression: 'attribute_exists(#entry)',
            ExpressionAttributeNames: {
              '#entry': registryEntryName(subscriptionId),
              '#count': 'subscription_count',
              '#version': 'version',
            },
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
      ]);
      await this.deleteIndexed(tenantId, subscriptionId, 'everything');
    });
  }

  claimDue(query: ClaimQuery): Promise<ClaimedDelivery[]> {
    return withDynamoFaults(() => claimDueDeliveries(this.claims, query, this.clock()));
  }

  /** One conditional UpdateItem on the record's key (see claim-deliveries.ts). */
  claim(
    tenantId: string,
    subscriptionId: string,
    eventId: string,
    claimMs: number,
  ): Promise<ClaimedDelivery | undefined> {
    return withDynamoFaults(() =>
      claimDeliveryRecord(this.claims, deliveryPk(tenantId, subscriptionId, eventId), claimMs, this.clock()),
    );
  }

  /**
   * One transaction: the record (updated or deleted, on condition of the claim id), the log
   * entry, and the subscription: its failing run, or its disabling, on condition that it is
   * active and its failing run is the one read just before (so that two attempts finishing
   * together cannot both decide from the same state), or a ConditionCheck of the same when
   * nothing about it changes. Disabling also marks its registry entry inactive, and then its
   * pending records are dropped (see the class comment).
   */
  finishAttempt(claim: ClaimedDelivery, result: AttemptResult): Promise<FinishOutcome> {
    return withDynamoFaults(async () => {
      for (let attempt = 1; ; attempt += 1) {
        const subscription = await this.readSubscription(claim.tenantId, claim.subscriptionId);
        if (subscription?.status !== 'active') {
          // Deleted or disabled: its records are being dropped; this one goes too.
          await this.deleteDelivery(claim);
          return { kind: 'claim_lost' };
        }
        const { outcome, attemptedAt } = result.attempt;
        const failed = outcome !== 'succeeded';
        const failingSince = failed ? (subscription.failingSince ?? attemptedAt) : null;
        const exhausted =
          failed &&
          subscription.failingSince !== null &&
          attemptedAt - subscription.failingSince >= FAILING_DISABLE_MS;
        const disabled: DisabledReason | null = result.disable ?? (exhausted ? 'failing' : null);
        const effective = endedByDisabling(result, disabled);
        const items = [
          this.deliveryChange(claim, effective),
          {
            Put: {
              TableName: this.tableName,
              Item: toAttemptItem(
                claim.tenantId,
                claim.subscriptionId,
                effective.attempt,
                effective.expiresAt,
              ),
            },
          },
          this.subscriptionChange(subscription, failingSince, disabled),
          ...(disabled ? [this.registryDisable(subscription)] : []),
        ];
        const failedConditions = await this.transact(items);
        if (failedConditions === undefined) {
          if (disabled) await this.deleteIndexed(claim.tenantId, claim.subscriptionId, 'deliveries');
          return { kind: 'recorded', disabled };
        }
        if (failedConditions[0]) return { kind: 'claim_lost' };
        // The subscription changed since it was read: decide again from what it is now.
        if (attempt >= TRANSACTION_CONFLICT_RETRY.maxAttempts) {
          throw new Error(`subscription ${claim.subscriptionId} kept changing under finishAttempt`);
        }
      }
    });
  }

  dropDelivery(claim: ClaimedDelivery): Promise<void> {
    return withDynamoFaults(() => this.deleteDelivery(claim));
  }

  /**
   * Newest first through the `subscription` index, which projects every field of an entry:
   * no table read. Entries past their expiresAt are skipped (TTL deletes them lazily).
   */
  listAttempts(
    tenantId: string,
    subscriptionId: string,
    limit: number,
    after?: PagePosition,
  ): Promise<AttemptPage> {
    return withDynamoFaults(async () => {
      const upper = after ? attemptSk(after.at, after.id) : `${ATTEMPT_SK_PREFIX}\uffff`;
      const now = this.clock();
      const found: AttemptPage['attempts'] = [];
      let startKey: RawItem | undefined;
      do {
        const page = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: SUBSCRIPTION_KEYS.name,
            // BETWEEN is inclusive: the cursor's own entry is dropped below.
            KeyConditionExpression: 'subscription_pk = :pk AND subscription_sk BETWEEN :lower AND :upper',
            FilterExpression: 'expires_at > :now',
            ExpressionAttributeValues: {
              ':pk': subscriptionIndexPk(tenantId, subscriptionId),
              ':lower': ATTEMPT_SK_PREFIX,
              ':upper': upper,
              ':now': now,
            },
            ScanIndexForward: false,
            Limit: startKey === undefined ? limit + 2 : this.queryPageSize,
            ExclusiveStartKey: startKey,
          }),
        );
        startKey = page.LastEvaluatedKey;
        for (const item of page.Items ?? []) {
          if (item.subscription_sk === upper) continue;
          const attempt = readAttempt(item);
          found.push({
            ...attempt,
            position: { at: attempt.attemptedAt, id: attemptId(attempt.eventId, attempt.attempt) },
          });
        }
      } while (startKey && found.length <= limit);
      return { attempts: found.slice(0, limit), hasMore: found.length > limit };
    });
  }

  /** The first entry of each shard of the `due` index. */
  nextDueAt(): Promise<number | undefined> {
    return withDynamoFaults(async () => {
      const firsts = await Promise.all(
        Array.from({ length: DUE_SHARDS }, async (_, shard) => {
          const page = await this.client.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: DUE_KEYS.name,
              KeyConditionExpression: 'due_pk = :shard',
              ExpressionAttributeValues: { ':shard': dueShardPk(shard) },
              Limit: 1,
            }),
          );
          const first = page.Items?.[0]?.next_attempt_at;
          return typeof first === 'number' ? [first] : [];
        }),
      );
      const all = firsts.flat();
      return all.length > 0 ? Math.min(...all) : undefined;
    });
  }

  async close(): Promise<void> {
    // The client belongs to whoever made it; every write resolved once DynamoDB had it.
  }

  private async readSubscription(
    tenantId: string,
    subscriptionId: string,
  ): Promise<StoredSubscription | undefined> {
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: subscriptionPk(tenantId, subscriptionId) },
        ConsistentRead: true,
      }),
    );
    return result.Item && readSubscription(result.Item);
  }

  /** `retrying` keeps the record, due again and unclaimed; an attempt that ended deletes it. */
  private deliveryChange(claim: ClaimedDelivery, result: AttemptResult): TransactItem {
    const pk = deliveryPk(claim.tenantId, claim.subscriptionId, claim.eventId);
    const owned = {
      TableName: this.tableName,
      Key: { pk },
      ConditionExpression: 'claim_id = :claim',
    };
    if (result.attempt.outcome !== 'retrying') {
      return { Delete: { ...owned, ExpressionAttributeValues: { ':claim': claim.claimId } } };
    }
    const next = result.attempt.nextAttemptAt;
    if (next === null) throw new Error('a retrying attempt needs its nextAttemptAt');
    return {
      Update: {
        ...owned,
        UpdateExpression:
          'SET #attempts = #attempts + :one, next_attempt_at = :next, due_sk = :sk REMOVE claim_id',
        ExpressionAttributeNames: { '#attempts': 'attempts' },
        ExpressionAttributeValues: {
          ':claim': claim.claimId,
          ':one': 1,
          ':next': next,
          ':sk': dueSk(next, pk),
        },
      },
    };
  }

  /** The subscription's failing run and status after the attempt, on condition of the read. */
  private subscriptionChange(
    subscription: StoredSubscription,
    failingSince: number | null,
    disabled: DisabledReason | null,
  ): TransactItem {
    const seen = subscription.failingSince;
    const target = {
      TableName: this.tableName,
      Key: { pk: subscriptionPk(subscription.tenantId, subscription.subscriptionId) },
      ConditionExpression:
        '#status = :active AND ' +
        (seen === null ? 'attribute_not_exists(failing_since)' : 'failing_since = :seen'),
      ExpressionAttributeNames: { '#status': 'status' },
    };
    const values = { ':active': 'active', ...(seen === null ? {} : { ':seen': seen }) };
    const failing =
      failingSince === null
        ? { set: [], remove: ['failing_since'], values: {} }
        : { set: ['failing_since = :since'], remove: [], values: { ':since': failingSince } };
    if (disabled) {
      return {
        Update: {
          ...target,
          UpdateExpression: updateExpression(
            ['#status = :disabled', 'disabled_reason = :reason', ...failing.set],
            failing.remove,
          ),
          ExpressionAttributeValues: {
            ...values,
            ...failing.values,
            ':disabled': 'disabled',
            ':reason': disabled,
          },
        },
      };
    }
    if (failingSince !== seen) {
      return {
        Update: {
          ...target,
          UpdateExpression: updateExpression(failing.set, failing.remove),
          ExpressionAttributeValues: { ...values, ...failing.values },
        },
      };
    }
    return { ConditionCheck: { ...target, ExpressionAttributeValues: values } };
  }

  /** Marks the subscription's registry entry inactive: creates stop matching it. */
  private registryDisable(subscription: StoredSubscription): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: registryPk(subscription.tenantId) },
        UpdateExpression: 'SET #entry.#active = :false, #version = #version + :one',
        ConditionExpression: 'attribute_exists(#entry)',
        ExpressionAttributeNames: {
          '#entry': registryEntryName(subscription.subscriptionId),
          '#active': 'active',
          '#version': 'version',
        },
        ExpressionAttributeValues: { ':false': false, ':one': 1 },
      },
    };
  }

  /** Deletes the claimed record, unless another claim holds it now. */
  private async deleteDelivery(claim: ClaimedDelivery): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: deliveryPk(claim.tenantId, claim.subscriptionId, claim.eventId) },
          ConditionExpression: 'claim_id = :claim',
          ExpressionAttributeValues: { ':claim': claim.claimId },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Deletes the subscription's delivery records, or its records and its log. */
  private async deleteIndexed(
    tenantId: string,
    subscriptionId: string,
    what: 'deliveries' | 'everything',
  ): Promise<void> {
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: SUBSCRIPTION_KEYS.name,
      KeyConditionExpression:
        what === 'deliveries'
          ? 'subscription_pk = :pk AND begins_with(subscription_sk, :dlv)'
          : 'subscription_pk = :pk',
      ExpressionAttributeValues: {
        ':pk': subscriptionIndexPk(tenantId, subscriptionId),
        ...(what === 'deliveries' ? { ':dlv': deliverySk('') } : {}),
      },
      ProjectionExpression: 'pk',
    };
    let startKey: RawItem | undefined;
    do {
      const page = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      startKey = page.LastEvaluatedKey;
      await batchDeleteByPk(
        this.batches,
        (page.Items ?? []).flatMap((item) => (typeof item.pk === 'string' ? [item.pk] : [])),
      );
    } while (startKey);
  }

  /**
   * Sends a transaction, retrying conflicts with other transactions (jittered backoff).
   * Undefined once written; when cancelled by conditions, which items' conditions failed.
   */
  private async transact(items: TransactItem[]): Promise<boolean[] | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: items }));
        return undefined;
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (!reasons) throw error;
        if (reasons.includes('ConditionalCheckFailed')) {
          return reasons.map((reason) => reason === 'ConditionalCheckFailed');
        }
        if (!reasons.includes('TransactionConflict') || attempt >= TRANSACTION_CONFLICT_RETRY.maxAttempts) {
          throw error;
        }
        await TRANSACTION_CONFLICT_RETRY.sleep(retryDelay(TRANSACTION_CONFLICT_RETRY, attempt));
      }
    }
  }
}

function updateExpression(set: string[], remove: string[]): string {
  return [
    set.length > 0 ? `SET ${set.join(', ')}` : '',
    remove.length > 0 ? `REMOVE ${remove.join(', ')}` : '',
  ]
    .filter((clause) => clause !== '')
    .join(' ');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
