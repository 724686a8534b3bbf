import type { Principal } from '../auth/principal';
import { type Clock, toIso } from '../clock';
import { AppError, ConflictError, LeaseMismatchError, LeaseTooLongError, NotFoundError } from '../errors';
import { storedEventId } from '../events/event-id';
import { toItemError } from '../events/service';
import type { components } from '../generated/triggers';
import type { LongPoll } from '../long-poll';
import type { AppMetrics } from '../metrics';
import type {
  EventStore,
  LeasedEvent,
  LeaseMismatch,
  NotPending,
  RedeliverOutcome,
} from '../store/event-store';

type LeaseInput = components['schemas']['LeaseInput'];
type ItemError = components['schemas']['ItemError'];

/** The contract's defaults (LeaseInput, NackInput): the validator checks bodies, it fills in nothing. */
export const DEFAULT_LEASE_LIMIT = 10;
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;

const SECOND_MS = 1000;

export interface LeasesServiceOptions {
  store: EventStore;
  clock: Clock;
  longPoll: LongPoll;
  /** TRIGGERS_MAX_DELIVERIES. */
  maxDeliveries: number;
  metrics: AppMetrics;
}

export interface NackedEvent {
  eventId: string;
  status: 'pending' | 'dead';
  deliveryCount: number;
  /** Null when the event is dead. */
  visibleAt: string | null;
}

export interface BulkRedeliverResult {
  successful: string[];
  failed: Array<{ eventId: string; error: ItemError }>;
}

/**
 * Leases (DESIGN §9): many workers on one inbox. The store makes each step atomic; this adds
 * the wire's units (seconds there, milliseconds in the store), long polling, the errors of
 * the contract and the wake-ups: whatever makes an event available now on this process
 * (redeliver, nack without delay) wakes the tenant's waiting requests.
 */
export class LeasesService {
  constructor(private readonly options: LeasesServiceOptions) {}

  /** Leases up to `limit` available events; with `wait`, holds the request until one is. */
  async lease(
    principal: Principal,
    input: Partial<LeaseInput>,
    cancel?: AbortSignal,
  ): Promise<LeasedEvent[]> {
    const { store, longPoll } = this.options;
    const query = {
      tenantId: principal.tenantId,
      filters: {
        source: input.source?.trim(),
        eventType: input.event_type?.trim(),
        priority: input.priority,
      },
      limit: input.limit ?? DEFAULT_LEASE_LIMIT,
      visibilityTimeoutMs: (input.visibility_timeout ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS) * SECOND_MS,
      maxDeliveries: this.options.maxDeliveries,
    };
    const leased = await longPoll.wait(
      { tenantId: principal.tenantId, keyId: principal.keyId, seconds: input.wait ?? 0, cancel },
      async () => {
        const events = await store.lease(query);
        return events.length > 0 ? events : undefined;
      },
    );
    if (leased) this.options.metrics.eventsLeased(leased.length);
    return leased ?? [];
  }

  async nack(principal: Principal, eventId: string, leaseId: string, delaySeconds = 0): Promise<NackedEvent> {
    const id = storedEventId(eventId);
    if (id === undefined) throw new NotFoundError();
    const outcome = await this.options.store.nack(
      principal.tenantId,
      id,
      leaseId,
      delaySeconds * SECOND_MS,
      this.options.maxDeliveries,
    );
    if (outcome.kind !== 'nacked') throw refusal(outcome);
    this.options.metrics.eventsNacked(1);
    if (outcome.status === 'dead') this.options.metrics.eventsDeadLettered(1);
    else if (outcome.availableAt <= this.options.clock()) this.options.longPoll.notify(principal.tenantId);
    return {
      eventId: id,
      status: outcome.status,
      deliveryCount: outcome.deliveryCount,
      visibleAt: outcome.status === 'dead' ? null : toIso(outcome.availableAt),
    };
  }

  async extend(
    principal: Principal,
    eventId: string,
    leaseId: string,
    visibilityTimeoutSeconds: number,
  ): Promise<{ eventId: string; leasedUntil: string }> {
    const id = storedEventId(eventId);
    if (id === undefined) throw new NotFoundError();
    const outcome = await this.options.store.extend(
      principal.tenantId,
      id,
      leaseId,
      visibilityTimeoutSeconds * SECOND_MS,
    );
    if (outcome.kind === 'lease_too_long') throw new LeaseTooLongError(toIso(outcome.maxLeasedUntil));
    if (outcome.kind !== 'extended') throw refusal(outcome);
    return { eventId: id, leasedUntil: toIso(outcome.leasedUntil) };
  }

  async redeliver(principal: Principal, eventId: string): Promise<string> {
    const id = storedEventId(eventId);
    if (id === undefined) throw new NotFoundError();
    settleRedeliver(await this.redeliverOutcome(principal, id));
    this.options.longPoll.notify(principal.tenantId);
    return id;
  }

  /**
   * Each id on its own, as a single redeliver; failures are listed, not thrown. An id given
   * twice is redelivered once: later occurrences answer what a second redeliver would (409,
   * pending already), whichever concurrent write lands first.
   */
  async redeliverMany(principal: Principal, eventIds: string[]): Promise<BulkRedeliverResult> {
    const first = new Map<string, Promise<RedeliverOutcome>>();
    const outcomes = await Promise.all(
      eventIds.map((given): Promise<RedeliverOutcome> => {
        const id = storedEventId(given);
        if (id === undefined) return Promise.resolve({ kind: 'not_found' });
        const earlier = first.get(id);
        if (earlier) return earlier.then(outcomeOfRepeat);
        const outcome = this.redeliverOutcome(principal, id);
        first.set(id, outcome);
        return outcome;
      }),
    );
    const result: BulkRedeliverResult = { successful: [], failed: [] };
    outcomes.forEach((outcome, index) => {
      const given = eventIds[index] as string;
      try {
        settleRedeliver(outcome);
        result.successful.push(given.toLowerCase());
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        result.failed.push({ eventId: given, error: toItemError(error) });
      }
    });
    if (result.successful.length > 0) this.options.longPoll.notify(principal.tenantId);
    return result;
  }

  private redeliverOutcome(principal: Principal, id: string): Promise<RedeliverOutcome> {
    return this.options.store.redeliver(principal.tenantId, id);
  }
}

/** What redelivering an id again right after `first` answers. */
function outcomeOfRepeat(first: RedeliverOutcome): RedeliverOutcome {
  return first.kind === 'redelivered'
    ? { kind: 'not_pending', status: 'pending', acknowledgedAt: null }
    : first;
}

function settleRedeliver(outcome: RedeliverOutcome): void {
  if (outcome.kind === 'redelivered') return;
  if (outcome.kind === 'not_pending' && outcome.status === 'pending') {
    throw new ConflictError(
      'pending',
      null,
      'The event is pending already: only an acknowledged or dead event can be redelivered.',
    );
  }
  throw refusal(outcome);
}

/** The error of an outcome that changed nothing. */
function refusal(outcome: { kind: 'not_found' } | NotPending | LeaseMismatch): AppError {
  switch (outcome.kind) {
    case 'not_found':
      return new NotFoundError();
    case 'lease_mismatch':
      return new LeaseMismatchError(outcome.status);
    case 'not_pending':
      return new ConflictError(
        outcome.status,
        outcome.acknowledgedAt === null ? null : toIso(outcome.acknowledgedAt),
      );
  }
}
