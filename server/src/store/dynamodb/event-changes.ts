import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type AckOutcome,
  type ExtendOutcome,
  type LeaseMismatch,
  MAX_LEASE_MS,
  type NackOutcome,
  type NotPending,
  type RedeliverOutcome,
} from '../event-store';
import { type EventStateItem, OUT_OF_PENDING_INDEXES, readEventState, STATE_ATTRIBUTES } from './event-item';
import { MalformedItemError, type RawItem } from './item-attributes';
import { availableSk, eventPk, inboxSk } from './item-keys';

export interface ChangeTarget {
  client: DynamoDBDocumentClient;
  tableName: string;
}

/**
 * Attempts of one change at most. A condition fails again only if the event changed between
 * the read that explains the failure and the next write: twice in a row is already unheard of.
 */
const MAX_ATTEMPTS = 3;

/**
 * The changes of one event, each one conditional UpdateItem on the table (strongly
 * consistent, whatever the indexes show yet). Each writes a fresh `change_token`, so that a
 * call whose write landed on an attempt whose answer was lost (the SDK retried it, and the
 * retry failed the condition) still answers its own success rather than a conflict.
 *
 * The ack writes first and reads only when its condition fails, to tell why. Nack, extend
 * and redeliver move the event's `available` index key, which holds its created_at: a write
 * cannot build a string from attributes, so they read the event first (one consistent
 * GetItem, which also answers refusals without a doomed write); their conditions still check
 * everything the read showed, so a change in between fails the write, never overwrites it.
 */
export async function ackEvent(
  target: ChangeTarget,
  tenantId: string,
  eventId: string,
  acknowledgedAt: number,
  leaseId: string | undefined,
  now: number,
): Promise<AckOutcome> {
  const Key = { pk: eventPk(tenantId, eventId) };
  const token = randomUUID();
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    try {
      // Removing the inbox and available keys takes the event out of both sparse indexes in
      // the same write. The lease fields stay: a retried ack with the same lease knows it.
      await target.client.send(
        new UpdateCommand({
          TableName: target.tableName,
          Key,
          UpdateExpression: `SET #status = :acknowledged, acknowledged_at = :at, change_token = :token REMOVE ${OUT_OF_PENDING_INDEXES}`,
          ConditionExpression: `#status = :pending AND expires_at > :now${leaseId === undefined ? '' : ' AND lease_id = :lease'}`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':acknowledged': 'acknowledged',
            ':pending': 'pending',
            ':at': acknowledgedAt,
            ':now': now,
            ':token': token,
            ...(leaseId === undefined ? {} : { ':lease': leaseId }),
          },
        }),
      );
      return { kind: 'acked', acknowledgedAt };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const state = await readState(target, Key, now);
    if (!state) return { kind: 'not_found' };
    if (state.change_token === token) return { kind: 'acked', acknowledgedAt };
    if (state.status === 'pending') {
      if (leaseId !== undefined && state.lease_id !== leaseId)
        return { kind: 'lease_mismatch', status: 'pending' };
      // Acked and redelivered between our write and our read: pending again, so try again.
      continue;
    }
    // A retry of the ack that used this lease: the first ack's answer.
    if (state.status === 'acknowledged' && leaseId !== undefined && state.lease_id === leaseId) {
      if (state.acknowledged_at !== undefined)
        return { kind: 'acked', acknowledgedAt: state.acknowledged_at };
    }
    return notPending(state);
  }
  throw new Error(`ack of ${Key.pk}: the event changed under ${MAX_ATTEMPTS} attempts`);
}

export function nackEvent(
  target: ChangeTarget,
  tenantId: string,
  eventId: string,
  leaseId: string,
  delayMs: number,
  maxDeliveries: number,
  now: number,
): Promise<NackOutcome> {
  return changeEvent<NackOutcome>(target, eventPk(tenantId, eventId), now, (state) => {
    // Only this lease's own nack leaves an event dead, under this lease, with no lease end:
    // a retry of it answers what the first one did.
    if (state?.status === 'dead' && state.lease_id === leaseId && state.leased_until === undefined) {
      return {
        answer: {
          kind: 'nacked',
          status: 'dead',
          deliveryCount: state.delivery_count,
          availableAt: state.available_at,
        },
      };
    }
    const held = latestLease(state, leaseId);
    if ('kind' in held) return { answer: held };
    const availableAt = now + delayMs;
    const dead = held.delivery_count >= maxDeliveries;
    const answer: NackOutcome = {
      kind: 'nacked',
      status: dead ? 'dead' : 'pending',
      deliveryCount: held.delivery_count,
      availableAt,
    };
    const write: Write = dead
      ? {
          // Its last delivery ended: out of the inbox and available indexes for good.
          set: ['#status = :dead', 'available_at = :at'],
          remove: ['leased_until', OUT_OF_PENDING_INDEXES],
          condition: LEASE_HELD,
          values: { ...leaseHeld(leaseId, now), ':dead': 'dead', ':at': availableAt },
        }
      : {
          set: ['available_at = :at', 'available_sk = :sk'],
          remove: ['leased_until'],
          condition: LEASE_HELD,
          values: {
            ...leaseHeld(leaseId, now),
            ':at': availableAt,
            ':sk': availableSk(availableAt, held.created_at, eventId),
          },
        };
    return { answer, write };
  });
}

export function extendLease(
  target: ChangeTarget,
  tenantId: string,
  eventId: string,
  leaseId: string,
  visibilityTimeoutMs: number,
  now: number,
): Promise<ExtendOutcome> {
  return changeEvent<ExtendOutcome>(target, eventPk(tenantId, eventId), now, (state) => {
    const held = latestLease(state, leaseId);
    if ('kind' in held) return { answer: held };
    // Every lease write sets lease_started_at with lease_id.
    if (held.lease_started_at === undefined) throw new MalformedItemError('lease_started_at', 'a number');
    const leasedUntil = now + visibilityTimeoutMs;
    const maxLeasedUntil = held.lease_started_at + MAX_LEASE_MS;
    if (leasedUntil > maxLeasedUntil) return { answer: { kind: 'lease_too_long', maxLeasedUntil } };
    return {
      answer: { kind: 'extended', leasedUntil },
      write: {
        set: ['leased_until = :until', 'available_at = :until', 'available_sk = :sk'],
        remove: [],
        condition: LEASE_HELD,
        values: {
          ...leaseHeld(leaseId, now),
          ':until': leasedUntil,
          ':sk': availableSk(leasedUntil, held.created_at, eventId),
        },
      },
    };
  });
}

export function redeliverEvent(
  target: ChangeTarget,
  tenantId: string,
  eventId: string,
  now: number,
): Promise<RedeliverOutcome> {
  return changeEvent<RedeliverOutcome>(target, eventPk(tenantId, eventId), now, (state) => {
    if (!state) return { answer: { kind: 'not_found' } };
    if (state.status === 'pending') return { answer: notPending(state) };
    return {
      answer: { kind: 'redelivered' },
      write: {
        // Back in the inbox at its created_at place, and available now, as if new.
        set: [
          '#status = :pending',
          'delivery_count = :zero',
          'available_at = :now',
          'inbox_pk = :tenant',
          'inbox_sk = :inboxSk',
          'available_pk = :tenant',
          'available_sk = :sk',
        ],
        remove: ['lease_id', 'leased_until', 'lease_started_at', 'acknowledged_at'],
        // Still acknowledged or dead as read: of concurrent redeliveries, one wins.
        condition: '#status = :was AND expires_at > :now',
        values: {
          ':was': state.status,
          ':pending': 'pending',
          ':zero': 0,
          ':now': now,
          ':tenant': tenantId,
          ':inboxSk': inboxSk(state.created_at, eventId),
          ':sk': availableSk(now, state.created_at, eventId),
        },
      },
    };
  });
}

/** A conditional update: its condition and SET clauses name the status `#status`. */
interface Write {
  set: string[];
  remove: string[];
  condition: string;
  values: Record<string, unknown>;
}

/** What a change decided on the state it read: an answer, and the write that makes it true. */
type Plan<T> = { answer: T; write?: Write };

const LEASE_HELD = '#status = :pending AND expires_at > :now AND lease_id = :lease';

function leaseHeld(leaseId: string, now: number): Record<string, unknown> {
  return { ':pending': 'pending', ':now': now, ':lease': leaseId };
}

/** The state, when it is pending under `leaseId` as its latest lease; else the refusal. */
function latestLease(
  state: EventStateItem | undefined,
  leaseId: string,
): EventStateItem | { kind: 'not_found' } | NotPending | LeaseMismatch {
  if (!state) return { kind: 'not_found' };
  if (state.status !== 'pending') return notPending(state);
  if (state.lease_id !== leaseId) return { kind: 'lease_mismatch', status: 'pending' };
  return state;
}

function notPending(state: EventStateItem): NotPending {
  return { kind: 'not_pending', status: state.status, acknowledgedAt: state.acknowledged_at ?? null };
}

/** Reads the state, decides, and writes under a condition; after a failed condition, again. */
async function changeEvent<T>(
  target: ChangeTarget,
  pk: string,
  now: number,
  decide: (state: EventStateItem | undefined) => Plan<T>,
): Promise<T> {
  const Key = { pk };
  const token = randomUUID();
  let tried: T | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    const state = await readState(target, Key, now);
    // Our write landed, its answer was lost: what it was written to answer.
    if (tried !== undefined && state?.change_token === token) return tried;
    const { answer, write } = decide(state);
    if (!write) return answer;
    const remove = write.remove.length > 0 ? ` REMOVE ${write.remove.join(', ')}` : '';
    try {
      await target.client.send(
        new UpdateCommand({
          TableName: target.tableName,
          Key,
          UpdateExpression: `SET ${[...write.set, 'change_token = :token'].join(', ')}${remove}`,
          ConditionExpression: write.condition,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ...write.values, ':token': token },
        }),
      );
      return answer;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      tried = answer;
    }
  }
  throw new Error(`change of ${pk}: the event changed under ${MAX_ATTEMPTS} attempts`);
}

/** The event's state (no payload), strongly consistent; undefined if missing or expired. */
async function readState(
  target: ChangeTarget,
  Key: RawItem,
  now: number,
): Promise<EventStateItem | undefined> {
  const result = await target.client.send(
    new GetCommand({
      TableName: target.tableName,
      Key,
      ConsistentRead: true,
      // Names for every attribute: `status` is one of DynamoDB's reserved words.
      ProjectionExpression: STATE_ATTRIBUTES.map((attribute) => `#${attribute}`).join(', '),
      ExpressionAttributeNames: Object.fromEntries(
        STATE_ATTRIBUTES.map((attribute) => [`#${attribute}`, attribute]),
      ),
    }),
  );
  if (!result.Item) return undefined;
  const state = readEventState(result.Item);
  return state.expires_at > now ? state : undefined;
}
