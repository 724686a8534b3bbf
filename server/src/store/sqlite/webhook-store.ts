import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock';
import {
  type AttemptOutcome,
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
import type { SqliteDatabase } from './database';
import { withSqliteFaults } from './errors';
import { GroupCommit } from './group-commit';

interface SubscriptionRow {
  tenant_id: string;
  subscription_id: string;
  target_url: string;
  event_types: string;
  sources: string;
  description: string | null;
  status: string;
  disabled_reason: string | null;
  secret: string;
  created_at: number;
  failing_since: number | null;
}

interface DeliveryRow {
  tenant_id: string;
  subscription_id: string;
  event_id: string;
  attempts: number;
  next_attempt_at: number;
}

interface AttemptRow {
  seq: number;
  event_id: string;
  attempt: number;
  attempted_at: number;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  outcome: string;
  next_attempt_at: number | null;
}

/**
 * Subscriptions, delivery records and the attempts log in the SQLite file of the events (the
 * records themselves are written by SqliteEventStore.create, in the event's transaction).
 * Writes go through group commit like the events', so each resolves once fsynced.
 */
export class SqliteWebhookStore implements WebhookStore {
  private readonly writes: GroupCommit;
  private readonly clock: Clock;
  private readonly sql: ReturnType<typeof prepareStatements>;

  constructor(db: SqliteDatabase, options: { clock: Clock }) {
    this.clock = options.clock;
    this.writes = new GroupCommit(db);
    this.sql = prepareStatements(db);
  }

  createSubscription(subscription: StoredSubscription): Promise<CreateSubscriptionOutcome> {
    return withSqliteFaults(() =>
      this.writes.run((): CreateSubscriptionOutcome => {
        const { n } = this.sql.countSubscriptions.get(subscription.tenantId) as { n: number };
        if (n >= MAX_SUBSCRIPTIONS_PER_TENANT)
          return { kind: 'limit_reached', limit: MAX_SUBSCRIPTIONS_PER_TENANT };
        this.sql.insertSubscription.run({
          tenant_id: subscription.tenantId,
          subscription_id: subscription.subscriptionId,
          target_url: subscription.targetUrl,
          event_types: JSON.stringify(subscription.eventTypes),
          sources: JSON.stringify(subscription.sources),
          description: subscription.description,
          status: subscription.status,
          disabled_reason: subscription.disabledReason,
          secret: subscription.secret,
          created_at: subscription.createdAt,
          failing_since: subscription.failingSince,
        });
        return { kind: 'created' };
      }),
    );
  }

  getSubscription(tenantId: string, subscriptionId: string): Promise<StoredSubscription | undefined> {
    return withSqliteFaults(() => {
      const row = this.sql.getSubscription.get(tenantId, subscriptionId) as SubscriptionRow | undefined;
      return row ? toSubscription(row) : undefined;
    });
  }

  listSubscriptions(tenantId: string, limit: number, after?: PagePosition): Promise<SubscriptionPage> {
    return withSqliteFaults(() => {
      const rows = this.sql.listSubscriptions.all({
        tenant_id: tenantId,
        after_at: after?.at ?? Number.MAX_SAFE_INTEGER,
        after_id: after?.id ?? '',
        has_after: after ? 1 : 0,
        limit: limit + 1,
      }) as SubscriptionRow[];
      return { subscriptions: rows.slice(0, limit).map(toSubscription), hasMore: rows.length > limit };
    });
  }

  deleteSubscription(tenantId: string, subscriptionId: string): Promise<void> {
    return withSqliteFaults(() =>
      this.writes.run(() => {
        this.sql.deleteSubscription.run(tenantId, subscriptionId);
        this.sql.deleteDeliveries.run(tenantId, subscriptionId);
        this.sql.deleteAttempts.run(tenantId, subscriptionId);
      }),
    );
  }

  claimDue({ limit, claimMs, skipSubscriptions }: ClaimQuery): Promise<ClaimedDelivery[]> {
    return withSqliteFaults(() =>
      this.writes.run((): ClaimedDelivery[] => {
        const now = this.clock();
        const claimedUntil = now + claimMs;
        const claimed: ClaimedDelivery[] = [];
        // Rows of skipped subscriptions are read and passed over: read a few more than wanted,
        // and never more than a bounded window, so a backlog behind one slow target cannot
        // make every claim walk it.
        const window = skipSubscriptions?.size ? limit * 4 + 100 : limit;
        const rows = this.sql.dueDeliveries.all(now, window) as DeliveryRow[];
        for (const row of rows) {
          if (claimed.length >= limit) break;
          if (skipSubscriptions?.has(row.subscription_id)) continue;
          const claimId = randomUUID();
          this.sql.claimDelivery.run(claimId, claimedUntil, row.tenant_id, row.subscription_id, row.event_id);
          claimed.push({
            tenantId: row.tenant_id,
            subscriptionId: row.subscription_id,
            eventId: row.event_id,
            attempts: row.attempts,
            nextAttemptAt: claimedUntil,
            claimId,
            claimedUntil,
          });
        }
        return claimed;
      }),
    );
  }

  claim(
    tenantId: string,
    subscriptionId: string,
    eventId: string,
    claimMs: number,
  ): Promise<ClaimedDelivery | undefined> {
    return withSqliteFaults(() =>
      this.writes.run((): ClaimedDelivery | undefined => {
        const now = this.clock();
        const claimedUntil = now + claimMs;
        const claimId = randomUUID();
        // Due now is the whole condition: a live claim keeps next_attempt_at in the future.
        const row = this.sql.claimOne.get({
          claim_id: claimId,
          until: claimedUntil,
          now,
          tenant_id: tenantId,
          subscription_id: subscriptionId,
          event_id: eventId,
        }) as { attempts: number } | undefined;
        if (!row) return undefined;
        return {
          tenantId,
          subscriptionId,
          eventId,
          attempts: row.attempts,
          nextAttemptAt: claimedUntil,
          claimId,
          claimedUntil,
        };
      }),
    );
  }

  finishAttempt(claim: ClaimedDelivery, result: AttemptResult): Promise<FinishOutcome> {
    return withSqliteFaults(() =>
      this.writes.run((): FinishOutcome => {
        const subscription = this.sql.getSubscription.get(claim.tenantId, claim.subscriptionId) as
          | SubscriptionRow
          | undefined;
        const active = subscription?.status === 'active';
        const disabled = active ? this.disablingReason(subscription, result) : null;
        const { attempt, expiresAt } = endedByDisabling(result, disabled);
        const key = [claim.tenantId, claim.subscriptionId, claim.eventId, claim.claimId] as const;
        const owned =
          attempt.outcome === 'retrying'
            ? this.sql.retryDelivery.run(attempt.nextAttemptAt, ...key).changes
            : this.sql.endDelivery.run(...key).changes;
        if (owned === 0) return { kind: 'claim_lost' };
        this.sql.insertAttempt.run({
          tenant_id: claim.tenantId,
          subscription_id: claim.subscriptionId,
          event_id: attempt.eventId,
          attempt: attempt.attempt,
          attempted_at: attempt.attemptedAt,
          status_code: attempt.statusCode,
          duration_ms: attempt.durationMs,
          error: attempt.error,
          outcome: attempt.outcome,
          next_attempt_at: attempt.nextAttemptAt,
          expires_at: expiresAt,
        });
        if (!active) return { kind: 'recorded', disabled: null };
        const { tenant_id: tenantId, subscription_id: subscriptionId } = subscription;
        if (attempt.outcome === 'succeeded') {
          if (subscription.failing_since !== null)
            this.sql.setFailingSince.run(null, tenantId, subscriptionId);
        } else if (subscription.failing_since === null) {
          this.sql.setFailingSince.run(attempt.attemptedAt, tenantId, subscriptionId);
        }
        if (disabled) {
          this.sql.disableSubscription.run(disabled, tenantId, subscriptionId);
          this.sql.deleteDeliveries.run(tenantId, subscriptionId);
        }
        return { kind: 'recorded', disabled };
      }),
    );
  }

  dropDelivery(claim: ClaimedDelivery): Promise<void> {
    return withSqliteFaults(() =>
      this.writes.run(() => {
        this.sql.endDelivery.run(claim.tenantId, claim.subscriptionId, claim.eventId, claim.claimId);
      }),
    );
  }

  listAttempts(
    tenantId: string,
    subscriptionId: string,
    limit: number,
    after?: PagePosition,
  ): Promise<AttemptPage> {
    return withSqliteFaults(() => {
      const rows = this.sql.listAttempts.all({
        tenant_id: tenantId,
        subscription_id: subscriptionId,
        now: this.clock(),
        after_at: after?.at ?? Number.MAX_SAFE_INTEGER,
        after_seq: after ? Number(after.id) : Number.MAX_SAFE_INTEGER,
        limit: limit + 1,
      }) as AttemptRow[];
      return {
        attempts: rows.slice(0, limit).map((row) => ({
          eventId: row.event_id,
          attempt: row.attempt,
          attemptedAt: row.attempted_at,
          statusCode: row.status_code,
          durationMs: row.duration_ms,
          error: row.error,
          outcome: row.outcome as AttemptOutcome,
          nextAttemptAt: row.next_attempt_at,
          position: { at: row.attempted_at, id: String(row.seq) },
        })),
        hasMore: rows.length > limit,
      };
    });
  }

  nextDueAt(): Promise<number | undefined> {
    return withSqliteFaults(() => {
      const row = this.sql.nextDue.get() as { next_attempt_at: number } | undefined;
      return row?.next_attempt_at;
    });
  }

  async close(): Promise<void> {
    await this.writes.drain();
  }

  /** Whether this attempt disables the subscription: a 410, or the end of 5 days of failures. */
  private disablingReason(subscription: SubscriptionRow, result: AttemptResult): DisabledReason | null {
    if (result.attempt.outcome === 'succeeded') return null;
    if (result.disable) return result.disable;
    const failingSince = subscription.failing_since ?? result.attempt.attemptedAt;
    return result.attempt.attemptedAt - failingSince >= FAILING_DISABLE_MS ? 'failing' : null;
  }
}

function prepareStatements(db: SqliteDatabase) {
  return {
    countSubscriptions: db.prepare('SELECT COUNT(*) AS n FROM subscriptions WHERE tenant_id = ?'),
    insertSubscription: db.prepare(
      `INSERT INTO subscriptions (tenant_id, subscription_id, target_url, event_types, sources, description,
         status, disabled_reason, secret, created_at, failing_since)
       VALUES (@tenant_id, @subscription_id, @target_url, @event_types, @sources, @description,
         @status, @disabled_reason, @secret, @created_at, @failing_since)`,
    ),
    getSubscription: db.prepare('SELECT * FROM subscriptions WHERE tenant_id = ? AND subscription_id = ?'),
    listSubscriptions: db.prepare(
      `SELECT * FROM subscriptions
       WHERE tenant_id = @tenant_id
         AND (@has_after = 0 OR (created_at, subscription_id) < (@after_at, @after_id))
       ORDER BY created_at DESC, subscription_id DESC
       LIMIT @limit`,
    ),
    deleteSubscription: db.prepare('DELETE FROM subscriptions WHERE tenant_id = ? AND subscription_id = ?'),
    deleteDeliveries: db.prepare('DELETE FROM deliveries WHERE tenant_id = ? AND subscription_id = ?'),
    deleteAttempts: db.prepare('DELETE FROM delivery_attempts WHERE tenant_id = ? AND subscription_id = ?'),
    disableSubscription: db.prepare(
      `UPDATE subscriptions SET status = 'disabled', disabled_reason = ?
       WHERE tenant_id = ? AND subscription_id = ?`,
    ),
    setFailingSince: db.prepare(
      'UPDATE subscriptions SET failing_since = ? WHERE tenant_id = ? AND subscription_id = ?',
    ),
    dueDeliveries: db.prepare(
      `SELECT tenant_id, subscription_id, event_id, attempts, next_attempt_at FROM deliveries
       WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`,
    ),
    claimDelivery: db.prepare(
      `UPDATE deliveries SET claim_id = ?, next_attempt_at = ?
       WHERE tenant_id = ? AND subscription_id = ? AND event_id = ?`,
    ),
    claimOne: db.prepare(
      `UPDATE deliveries SET claim_id = @claim_id, next_attempt_at = @until
       WHERE tenant_id = @tenant_id AND subscription_id = @subscription_id AND event_id = @event_id
         AND next_attempt_at <= @now
       RETURNING attempts`,
    ),
    retryDelivery: db.prepare(
      `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, claim_id = NULL
       WHERE tenant_id = ? AND subscription_id = ? AND event_id = ? AND claim_id = ?`,
    ),
    endDelivery: db.prepare(
      'DELETE FROM deliveries WHERE tenant_id = ? AND subscription_id = ? AND event_id = ? AND claim_id = ?',
    ),
    insertAttempt: db.prepare(
      `INSERT INTO delivery_attempts (tenant_id, subscription_id, event_id, attempt, attempted_at, status_code,
         duration_ms, error, outcome, next_attempt_at, expires_at)
       VALUES (@tenant_id, @subscription_id, @event_id, @attempt, @attempted_at, @status_code,
         @duration_ms, @error, @outcome, @next_attempt_at, @expires_at)`,
    ),
    listAttempts: db.prepare(
      `SELECT seq, event_id, attempt, attempted_at, status_code, duration_ms, error, outcome, next_attempt_at
       FROM delivery_attempts
       WHERE tenant_id = @tenant_id AND subscription_id = @subscription_id AND expires_at > @now
         AND (attempted_at, seq) < (@after_at, @after_seq)
       ORDER BY attempted_at DESC, seq DESC
       LIMIT @limit`,
    ),
    nextDue: db.prepare('SELECT next_attempt_at FROM deliveries ORDER BY next_attempt_at LIMIT 1'),
  };
}

function toSubscription(row: SubscriptionRow): StoredSubscription {
  return {
    tenantId: row.tenant_id,
    subscriptionId: row.subscription_id,
    targetUrl: row.target_url,
    eventTypes: JSON.parse(row.event_types) as string[],
    sources: JSON.parse(row.sources) as string[],
    description: row.description,
    status: row.status === 'disabled' ? 'disabled' : 'active',
    disabledReason:
      row.disabled_reason === 'gone' || row.disabled_reason === 'failing' ? row.disabled_reason : null,
    secret: row.secret,
    createdAt: row.created_at,
    failingSince: row.failing_since,
  };
}
