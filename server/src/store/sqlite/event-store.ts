import type { Statement } from 'better-sqlite3';
import type { Clock } from '../../clock';
import type {
  AckOutcome,
  CreateOutcome,
  CreateRequest,
  EventStatus,
  EventStore,
  IdempotencyRecord,
  ListPendingQuery,
  ListPendingResult,
  Priority,
  StoredEvent,
} from '../event-store';
import type { SqliteDatabase } from './database';
import { withSqliteFaults } from './errors';
import { GroupCommit } from './group-commit';

interface EventRow {
  tenant_id: string;
  event_id: string;
  created_at: number;
  source: string;
  event_type: string;
  priority: string;
  payload: string;
  metadata: string;
  status: string;
  acknowledged_at: number | null;
  expires_at: number;
}

interface IdempotencyRow {
  idempotency_key: string;
  request_hash: string;
  event_id: string;
  created_at: number;
  event_expires_at: number;
}

export interface SqliteEventStoreOptions {
  clock: Clock;
  /** How often expired events and idempotency records are swept; 0 disables the sweeper. */
  sweepIntervalMs?: number;
  /** Rows deleted per sweep transaction, small so that no write waits long behind it. */
  sweepBatchSize?: number;
}

/**
 * The embedded EventStore: one SQLite file in WAL mode with `synchronous=FULL`. Every write
 * goes through group commit, so a promise resolves only after its transaction is fsynced.
 * Reads run directly: better-sqlite3 is synchronous, so they never see a half-done batch.
 */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite' as const;
  private readonly writes: GroupCommit;
  private readonly clock: Clock;
  private readonly sweepBatchSize: number;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly listStatements = new Map<string, Statement>();
  private readonly sql: ReturnType<typeof prepareStatements>;

  constructor(
    private readonly db: SqliteDatabase,
    options: SqliteEventStoreOptions,
  ) {
    this.clock = options.clock;
    this.writes = new GroupCommit(db);
    this.sql = prepareStatements(db);
    this.sweepBatchSize = options.sweepBatchSize ?? 500;
    const interval = options.sweepIntervalMs ?? 30_000;
    if (interval > 0) {
      this.sweeper = setInterval(() => {
        this.sweepExpired().catch(() => {
          // A failed sweep is retried at the next tick; the rows stay invisible meanwhile.
        });
      }, interval);
      this.sweeper.unref();
    }
  }

  create({ event, idempotency }: CreateRequest): Promise<CreateOutcome> {
    return withSqliteFaults(() =>
      this.writes.run((): CreateOutcome => {
        if (idempotency) {
          // The claim is a conditional write (insert, or take over an expired record), never
          // a read followed by a write: zero changes means someone holds the key.
          const claimed = this.sql.claimKey.run({
            tenant_id: event.tenantId,
            idempotency_key: idempotency.key,
            request_hash: idempotency.requestHash,
            event_id: event.eventId,
            created_at: event.createdAt,
            event_expires_at: event.expiresAt,
            expires_at: idempotency.expiresAt,
            now: this.clock(),
          });
          if (claimed.changes === 0) {
            const row = this.sql.getKey.get(event.tenantId, idempotency.key) as IdempotencyRow;
            const record = toIdempotencyRecord(row);
            return record.requestHash === idempotency.requestHash
              ? { kind: 'replayed', record }
              : { kind: 'key_reused', record };
          }
        }
        this.sql.insertEvent.run({
          tenant_id: event.tenantId,
          event_id: event.eventId,
          created_at: event.createdAt,
          source: event.source,
          event_type: event.eventType,
          priority: event.priority,
          payload: event.payloadJson,
          metadata: JSON.stringify(event.metadata),
          expires_at: event.expiresAt,
        });
        return { kind: 'created', event: { ...event, status: 'pending', acknowledgedAt: null } };
      }),
    );
  }

  get(tenantId: string, eventId: string): Promise<StoredEvent | undefined> {
    return withSqliteFaults(() => {
      const row = this.sql.getEvent.get(tenantId, eventId, this.clock()) as EventRow | undefined;
      return row ? toStoredEvent(row) : undefined;
    });
  }

  ack(tenantId: string, eventId: string, acknowledgedAt: number): Promise<AckOutcome> {
    return withSqliteFaults(() =>
      this.writes.run((): AckOutcome => {
        const now = this.clock();
        const changed = this.sql.ackEvent.run(acknowledgedAt, tenantId, eventId, now).changes;
        if (changed === 1) return { kind: 'acked', acknowledgedAt };
        const row = this.sql.getEvent.get(tenantId, eventId, now) as EventRow | undefined;
        if (!row) return { kind: 'not_found' };
        return {
          kind: 'not_pending',
          status: row.status as EventStatus,
          acknowledgedAt: row.acknowledged_at,
        };
      }),
    );
  }

  delete(tenantId: string, eventId: string): Promise<void> {
    return withSqliteFaults(() =>
      this.writes.run(() => {
        this.sql.deleteEvent.run(tenantId, eventId);
      }),
    );
  }

  listPending(query: ListPendingQuery): Promise<ListPendingResult> {
    return withSqliteFaults(() => {
      const { filters, after } = query;
      const params: Record<string, unknown> = {
        tenant_id: query.tenantId,
        now: this.clock(),
        // One more row than asked tells whether more exist, without a second query.
        limit: query.limit + 1,
      };
      const clauses: string[] = [];
      if (filters.source !== undefined) {
        clauses.push('source = @source');
        params.source = filters.source;
      }
      if (filters.eventType !== undefined) {
        clauses.push('event_type = @event_type');
        params.event_type = filters.eventType;
      }
      if (filters.priority !== undefined) {
        clauses.push('priority = @priority');
        params.priority = filters.priority;
      }
      if (filters.createdAfter !== undefined) {
        clauses.push('created_at > @created_after');
        params.created_after = filters.createdAfter;
      }
      if (filters.createdBefore !== undefined) {
        clauses.push('created_at < @created_before');
        params.created_before = filters.createdBefore;
      }
      if (after) {
        clauses.push('(created_at, event_id) > (@after_created_at, @after_event_id)');
        params.after_created_at = after.createdAt;
        params.after_event_id = after.eventId;
      }
      const rows = this.listStatement(clauses).all(params) as EventRow[];
      const hasMore = rows.length > query.limit;
      return { events: rows.slice(0, query.limit).map(toStoredEvent), hasMore };
    });
  }

  ping(): Promise<void> {
    return withSqliteFaults(() => {
      this.sql.ping.get();
    });
  }

  /** Deletes one small batch of expired events and idempotency records; returns the count. */
  sweepExpired(): Promise<number> {
    return withSqliteFaults(() =>
      this.writes.run(() => {
        const now = this.clock();
        return (
          this.sql.sweepEvents.run(now, this.sweepBatchSize).changes +
          this.sql.sweepKeys.run(now, this.sweepBatchSize).changes
        );
      }),
    );
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.writes.drain();
  }

  /** One prepared statement per combination of filters, built once and reused. */
  private listStatement(clauses: string[]): Statement {
    const key = clauses.join(' AND ');
    let statement = this.listStatements.get(key);
    if (!statement) {
      statement = this.db.prepare(
        `SELECT * FROM events
         WHERE tenant_id = @tenant_id AND status = 'pending' AND expires_at > @now
         ${clauses.map((clause) => `AND ${clause}`).join(' ')}
         ORDER BY created_at, event_id
         LIMIT @limit`,
      );
      this.listStatements.set(key, statement);
    }
    return statement;
  }
}

function prepareStatements(db: SqliteDatabase) {
  return {
    claimKey: db.prepare(
      `INSERT INTO idempotency_keys
         (tenant_id, idempotency_key, request_hash, event_id, created_at, event_expires_at, expires_at)
       VALUES (@tenant_id, @idempotency_key, @request_hash, @event_id, @created_at, @event_expires_at, @expires_at)
       ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET
         request_hash = excluded.request_hash, event_id = excluded.event_id,
         created_at = excluded.created_at, event_expires_at = excluded.event_expires_at,
         expires_at = excluded.expires_at
       WHERE idempotency_keys.expires_at <= @now`,
    ),
    getKey: db.prepare(
      `SELECT idempotency_key, request_hash, event_id, created_at, event_expires_at
       FROM idempotency_keys WHERE tenant_id = ? AND idempotency_key = ?`,
    ),
    insertEvent: db.prepare(
      `INSERT INTO events
         (tenant_id, event_id, created_at, source, event_type, priority, payload, metadata, status, acknowledged_at, expires_at)
       VALUES (@tenant_id, @event_id, @created_at, @source, @event_type, @priority, @payload, @metadata, 'pending', NULL, @expires_at)`,
    ),
    getEvent: db.prepare('SELECT * FROM events WHERE tenant_id = ? AND event_id = ? AND expires_at > ?'),
    ackEvent: db.prepare(
      `UPDATE events SET status = 'acknowledged', acknowledged_at = ?
       WHERE tenant_id = ? AND event_id = ? AND status = 'pending' AND expires_at > ?`,
    ),
    deleteEvent: db.prepare('DELETE FROM events WHERE tenant_id = ? AND event_id = ?'),
    sweepEvents: db.prepare(
      `DELETE FROM events WHERE rowid IN
         (SELECT rowid FROM events WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ),
    sweepKeys: db.prepare(
      `DELETE FROM idempotency_keys WHERE rowid IN
         (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ),
    ping: db.prepare('SELECT 1'),
  };
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    tenantId: row.tenant_id,
    eventId: row.event_id,
    createdAt: row.created_at,
    source: row.source,
    eventType: row.event_type,
    payloadJson: row.payload,
    priority: row.priority as Priority,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    status: row.status as EventStatus,
    acknowledgedAt: row.acknowledged_at,
    expiresAt: row.expires_at,
  };
}

function toIdempotencyRecord(row: IdempotencyRow): IdempotencyRecord {
  return {
    key: row.idempotency_key,
    requestHash: row.request_hash,
    eventId: row.event_id,
    createdAt: row.created_at,
    eventExpiresAt: row.event_expires_at,
  };
}
