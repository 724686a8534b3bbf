import { v7 as uuidv7 } from 'uuid';
import {
  type InboxPosition,
  type LeaseQuery,
  MAX_LEASE_MS,
  type NackOutcome,
  type NewEvent,
  type StoredEvent,
} from '../../server/src/store/event-store';
import { type StoreUnderTest, storeFixtures } from './fixtures';

const SECOND = 1_000;

/**
 * Leases, nack, extend, dead letters, redelivery and the event list (DESIGN §9–§10): part of
 * the EventStore conformance suite, run unchanged against every adapter.
 */
export function describeLeases(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`EventStore leases: ${name}`, () => {
    let s: StoreUnderTest;
    beforeEach(async () => {
      s = await makeStore();
    });
    afterEach(() => s.cleanup());

    const { newEvent, created } = storeFixtures(() => s);
    /** Creates `count` events, one millisecond apart, oldest first. */
    const seed = async (count: number, overrides: (i: number) => Partial<NewEvent> = () => ({})) => {
      const events: StoredEvent[] = [];
      for (let i = 0; i < count; i += 1) {
        events.push(await created({ event: newEvent(overrides(i)) }));
        s.clock.advance(1);
      }
      return events;
    };
    const lease = (overrides: Partial<LeaseQuery> = {}) =>
      s.store.lease({
        tenantId: 'tenant-a',
        filters: {},
        limit: 10,
        visibilityTimeoutMs: 30 * SECOND,
        maxDeliveries: 5,
        ...overrides,
      });
    const ids = (events: Array<{ eventId: string }>) => events.map((e) => e.eventId);
    const available = async () =>
      ids((await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 100 })).events);

    describe('lease', () => {
      it('leases available events oldest first and hides them until the lease runs out', async () => {
        // Prepare
        const events = await seed(5);
        const now = s.clock.now;
        // Act
        const first = await lease({ limit: 3 });
        const second = await lease({ limit: 3 });
        // Assess
        expect(ids(first)).toEqual(ids(events.slice(0, 3)));
        expect(ids(second)).toEqual(ids(events.slice(3)));
        for (const event of first) {
          expect(event).toMatchObject({
            status: 'pending',
            deliveryCount: 1,
            leasedUntil: now + 30 * SECOND,
            leaseStartedAt: now,
          });
          expect(event.leaseId).toEqual(expect.any(String));
        }
        expect(new Set([...first, ...second].map((e) => e.leaseId)).size).toBe(5);
        expect(await lease()).toEqual([]);
        expect(await available()).toEqual([]);
        expect(await s.store.get('tenant-a', events[0]?.eventId as string)).toMatchObject({
          deliveryCount: 1,
          leaseId: first[0]?.leaseId,
          leasedUntil: now + 30 * SECOND,
        });
      });

      it('gives the payload and fields of each event with its lease', async () => {
        const [event] = await seed(1, () => ({ payloadJson: '{"order":{"id":7,"amount":1.5}}' }));
        const [leased] = await lease();
        expect(leased).toEqual({
          ...event,
          deliveryCount: 1,
          leaseId: leased?.leaseId,
          leasedUntil: s.clock.now + 30 * SECOND,
          availableAt: s.clock.now + 30 * SECOND,
          leaseStartedAt: s.clock.now,
        });
      });

      it('makes an event available again when its lease runs out, under a new lease id', async () => {
        const [event] = await seed(1);
        const [first] = await lease({ visibilityTimeoutMs: 10 * SECOND });
        s.clock.advance(10 * SECOND - 1);
        expect(await lease()).toEqual([]);
        s.clock.advance(1);
        expect(await available()).toEqual([event?.eventId]);
        const [second] = await lease();
        expect(second).toMatchObject({ eventId: event?.eventId, deliveryCount: 2 });
        expect(second?.leaseId).not.toBe(first?.leaseId);
        const stale = first?.leaseId as string;
        const id = event?.eventId as string;
        expect(await s.store.ack('tenant-a', id, s.clock.now, stale)).toEqual({
          kind: 'lease_mismatch',
          status: 'pending',
        });
        expect(await s.store.nack('tenant-a', id, stale, 0, 5)).toMatchObject({ kind: 'lease_mismatch' });
        expect(await s.store.extend('tenant-a', id, stale, SECOND)).toMatchObject({ kind: 'lease_mismatch' });
      });

      it('applies source, event type and priority filters before the limit', async () => {
        await seed(36, (i) =>
          i % 6 === 0
            ? { source: 'rare', eventType: 'order.paid', priority: 'high', metadata: { priority: 'high' } }
            : {},
        );
        for (const filters of [
          { source: 'rare' },
          { eventType: 'order.paid' },
          { priority: 'high' as const },
        ]) {
          const leased = await lease({ filters, limit: 2 });
          expect(leased).toHaveLength(2);
          expect(leased.every((e) => e.source === 'rare')).toBe(true);
        }
      });

      it('never hands one event to two of 20 concurrent leases over 60 events', async () => {
        // Prepare
        const events = await seed(60);
        // Act: 20 leases of up to 5 at once: more room (100) than events.
        const results = await Promise.all(Array.from({ length: 20 }, () => lease({ limit: 5 })));
        // Assess
        const leased = results.flat();
        expect(leased).toHaveLength(60);
        expect(new Set(ids(leased)).size).toBe(60);
        expect(new Set(ids(leased))).toEqual(new Set(ids(events)));
        for (const event of leased) {
          expect(await s.store.get('tenant-a', event.eventId)).toMatchObject({
            deliveryCount: 1,
            leaseId: event.leaseId,
          });
        }
      });

      it("never leases another tenant's events nor acts on them with a lease id", async () => {
        const [event] = await seed(1);
        expect(await lease({ tenantId: 'tenant-b' })).toEqual([]);
        const [leased] = await lease();
        const id = event?.eventId as string;
        const leaseId = leased?.leaseId as string;
        expect(await s.store.ack('tenant-b', id, s.clock.now, leaseId)).toEqual({ kind: 'not_found' });
        expect(await s.store.nack('tenant-b', id, leaseId, 0, 5)).toEqual({ kind: 'not_found' });
        expect(await s.store.extend('tenant-b', id, leaseId, SECOND)).toEqual({ kind: 'not_found' });
        expect(await s.store.redeliver('tenant-b', id)).toEqual({ kind: 'not_found' });
      });

      it('never leases an expired event, and treats its lease as gone', async () => {
        const [event] = await seed(1, () => ({ expiresAt: s.clock.now + 60 * SECOND }));
        const [leased] = await lease({ visibilityTimeoutMs: 10 * SECOND });
        s.clock.advance(60 * SECOND);
        expect(await lease()).toEqual([]);
        const id = event?.eventId as string;
        const leaseId = leased?.leaseId as string;
        expect(await s.store.nack('tenant-a', id, leaseId, 0, 5)).toEqual({ kind: 'not_found' });
        expect(await s.store.extend('tenant-a', id, leaseId, SECOND)).toEqual({ kind: 'not_found' });
        expect(await s.store.ack('tenant-a', id, s.clock.now, leaseId)).toEqual({ kind: 'not_found' });
      });
    });

    describe('ack with a lease', () => {
      it('acks with the latest lease, and a retry with that lease answers the first time', async () => {
        const [event] = await seed(1);
        const [leased] = await lease();
        const id = event?.eventId as string;
        const leaseId = leased?.leaseId as string;
        expect(await s.store.ack('tenant-a', id, 5_000, 'another-lease')).toEqual({
          kind: 'lease_mismatch',
          status: 'pending',
        });
        expect(await s.store.ack('tenant-a', id, 6_000, leaseId)).toEqual({
          kind: 'acked',
          acknowledgedAt: 6_000,
        });
        expect(await s.store.ack('tenant-a', id, 7_000, leaseId)).toEqual({
          kind: 'acked',
          acknowledgedAt: 6_000,
        });
        expect(await s.store.ack('tenant-a', id, 8_000)).toEqual({
          kind: 'not_pending',
          status: 'acknowledged',
          acknowledgedAt: 6_000,
        });
        expect(await s.store.ack('tenant-a', id, 8_000, 'another-lease')).toEqual({
          kind: 'not_pending',
          status: 'acknowledged',
          acknowledgedAt: 6_000,
        });
      });

      it('acks a leased event without a lease id, and with a lease that ran out unreleased', async () => {
        const [a, b] = await seed(2);
        const leased = await lease({ visibilityTimeoutMs: SECOND });
        expect(await s.store.ack('tenant-a', a?.eventId as string, 1)).toEqual({
          kind: 'acked',
          acknowledgedAt: 1,
        });
        s.clock.advance(5 * SECOND);
        const late = leased.find((e) => e.eventId === b?.eventId)?.leaseId;
        expect(await s.store.ack('tenant-a', b?.eventId as string, 2, late)).toEqual({
          kind: 'acked',
          acknowledgedAt: 2,
        });
        expect(await lease()).toEqual([]);
      });
    });

    describe('nack', () => {
      it('ends the lease at once, or after a delay, keeping the delivery count', async () => {
        const [a, b] = await seed(2);
        const leased = await lease();
        const now = s.clock.now;
        const leaseOf = (event?: StoredEvent) =>
          leased.find((e) => e.eventId === event?.eventId)?.leaseId as string;
        expect(await s.store.nack('tenant-a', a?.eventId as string, leaseOf(a), 0, 5)).toEqual({
          kind: 'nacked',
          status: 'pending',
          deliveryCount: 1,
          availableAt: now,
        });
        expect(await s.store.nack('tenant-a', b?.eventId as string, leaseOf(b), 60 * SECOND, 5)).toEqual({
          kind: 'nacked',
          status: 'pending',
          deliveryCount: 1,
          availableAt: now + 60 * SECOND,
        });
        expect(await s.store.get('tenant-a', a?.eventId as string)).toMatchObject({ leasedUntil: null });
        expect(await available()).toEqual([a?.eventId]);
        expect(ids(await lease())).toEqual([a?.eventId]);
        s.clock.advance(60 * SECOND);
        const again = (await lease()).find((e) => e.eventId === b?.eventId);
        expect(again).toMatchObject({ deliveryCount: 2 });
      });

      it('refuses another lease, an acknowledged event and an unknown id', async () => {
        const [event] = await seed(1);
        const [leased] = await lease();
        const id = event?.eventId as string;
        expect(await s.store.nack('tenant-a', id, 'another-lease', 0, 5)).toEqual({
          kind: 'lease_mismatch',
          status: 'pending',
        });
        await s.store.ack('tenant-a', id, 3_000);
        expect(await s.store.nack('tenant-a', id, leased?.leaseId as string, 0, 5)).toEqual({
          kind: 'not_pending',
          status: 'acknowledged',
          acknowledgedAt: 3_000,
        });
        expect(await s.store.nack('tenant-a', uuidv7(), 'x', 0, 5)).toEqual({ kind: 'not_found' });
      });

      it('makes an event dead when its last delivery is nacked', async () => {
        const [event] = await seed(1);
        const id = event?.eventId as string;
        let last: NackOutcome | undefined;
        let lastLease = '';
        for (let delivery = 1; delivery <= 3; delivery += 1) {
          const [leased] = await lease({ maxDeliveries: 3 });
          expect(leased?.deliveryCount).toBe(delivery);
          lastLease = leased?.leaseId as string;
          last = await s.store.nack('tenant-a', id, lastLease, 0, 3);
          expect(last).toMatchObject({ kind: 'nacked', status: delivery < 3 ? 'pending' : 'dead' });
        }
        // A retry of that last nack (its answer lost) answers the same, not a conflict.
        s.clock.advance(SECOND);
        expect(await s.store.nack('tenant-a', id, lastLease, 0, 3)).toEqual(last);
        expect(await s.store.nack('tenant-a', id, 'another-lease', 0, 3)).toMatchObject({
          kind: 'not_pending',
        });
        expect(await s.store.get('tenant-a', id)).toMatchObject({ status: 'dead', deliveryCount: 3 });
        expect(await lease({ maxDeliveries: 3 })).toEqual([]);
        expect(await available()).toEqual([]);
      });
    });

    describe('extend', () => {
      it('counts the new timeout from the call, and keeps the event hidden past its first end', async () => {
        const [event] = await seed(1);
        const [leased] = await lease({ visibilityTimeoutMs: 10 * SECOND });
        s.clock.advance(8 * SECOND);
        const outcome = await s.store.extend(
          'tenant-a',
          event?.eventId as string,
          leased?.leaseId as string,
          30 * SECOND,
        );
        expect(outcome).toEqual({ kind: 'extended', leasedUntil: s.clock.now + 30 * SECOND });
        s.clock.advance(29 * SECOND);
        expect(await lease()).toEqual([]);
        s.clock.advance(SECOND);
        expect(ids(await lease())).toEqual([event?.eventId]);
      });

      it('refuses to keep one lease beyond 12 hours from when it was taken', async () => {
        const [event] = await seed(1);
        const started = s.clock.now;
        const [leased] = await lease({ visibilityTimeoutMs: 43_200 * SECOND });
        const id = event?.eventId as string;
        const leaseId = leased?.leaseId as string;
        s.clock.advance(60 * SECOND);
        expect(await s.store.extend('tenant-a', id, leaseId, 43_200 * SECOND)).toEqual({
          kind: 'lease_too_long',
          maxLeasedUntil: started + MAX_LEASE_MS,
        });
        expect(await s.store.extend('tenant-a', id, leaseId, 43_140 * SECOND)).toEqual({
          kind: 'extended',
          leasedUntil: started + MAX_LEASE_MS,
        });
      });

      it('refuses another lease and an acknowledged event', async () => {
        const [event] = await seed(1);
        const [leased] = await lease();
        const id = event?.eventId as string;
        expect(await s.store.extend('tenant-a', id, 'another-lease', SECOND)).toEqual({
          kind: 'lease_mismatch',
          status: 'pending',
        });
        await s.store.ack('tenant-a', id, 4_000);
        expect(await s.store.extend('tenant-a', id, leased?.leaseId as string, SECOND)).toEqual({
          kind: 'not_pending',
          status: 'acknowledged',
          acknowledgedAt: 4_000,
        });
      });
    });

    describe('dead letters', () => {
      it('makes an event dead when its last lease has run out and a lease would take it again', async () => {
        const [event, other] = await seed(2);
        let lastLeaseEnd = 0;
        for (let delivery = 1; delivery <= 2; delivery += 1) {
          const leased = await lease({ maxDeliveries: 2, visibilityTimeoutMs: SECOND });
          lastLeaseEnd = leased.find((e) => e.eventId === event?.eventId)?.leasedUntil ?? 0;
          expect(ids(leased).sort()).toEqual(ids([event, other] as StoredEvent[]).sort());
          await s.store.ack('tenant-a', other?.eventId as string, s.clock.now);
          await s.store.redeliver('tenant-a', other?.eventId as string);
          s.clock.advance(SECOND);
        }
        // `other` was redelivered each time: its count starts again; `event` is used up.
        const leased = await lease({ maxDeliveries: 2 });
        expect(ids(leased)).toEqual([other?.eventId]);
        // Its last lease ran out rather than ended: leased_until still says when.
        expect(await s.store.get('tenant-a', event?.eventId as string)).toMatchObject({
          status: 'dead',
          deliveryCount: 2,
          leasedUntil: lastLeaseEnd,
        });
        const dead = await s.store.listEvents({
          tenantId: 'tenant-a',
          filters: { status: 'dead' },
          order: 'desc',
          limit: 10,
        });
        expect(ids(dead.events)).toEqual([event?.eventId]);
      });
    });

    describe('redeliver', () => {
      it('makes an acknowledged event pending again, back in the inbox, its deliveries and lease reset', async () => {
        const [event, later] = await seed(2);
        const [leased] = await lease({ limit: 1 });
        await s.store.ack('tenant-a', event?.eventId as string, 9_000, leased?.leaseId);
        s.clock.advance(SECOND);
        expect(await s.store.redeliver('tenant-a', event?.eventId as string)).toEqual({
          kind: 'redelivered',
        });
        expect(await s.store.get('tenant-a', event?.eventId as string)).toMatchObject({
          status: 'pending',
          acknowledgedAt: null,
          deliveryCount: 0,
          leaseId: null,
          leasedUntil: null,
          leaseStartedAt: null,
          availableAt: s.clock.now,
        });
        // Back at its place by created_at in the inbox.
        expect(await available()).toEqual([event?.eventId, later?.eventId]);
      });

      it('makes a dead event pending again', async () => {
        const [event] = await seed(1);
        const [leased] = await lease({ maxDeliveries: 1 });
        await s.store.nack('tenant-a', event?.eventId as string, leased?.leaseId as string, 0, 1);
        expect(await s.store.redeliver('tenant-a', event?.eventId as string)).toEqual({
          kind: 'redelivered',
        });
        expect(ids(await lease({ maxDeliveries: 1 }))).toEqual([event?.eventId]);
      });

      it('reports not_pending for a pending event, leased or not, and not_found for an unknown id', async () => {
        const [a, b] = await seed(2);
        await lease({ limit: 1 });
        for (const event of [a, b]) {
          expect(await s.store.redeliver('tenant-a', event?.eventId as string)).toEqual({
            kind: 'not_pending',
            status: 'pending',
            acknowledgedAt: null,
          });
        }
        expect(await s.store.redeliver('tenant-a', uuidv7())).toEqual({ kind: 'not_found' });
      });

      it('lets exactly one of 10 concurrent redeliveries win', async () => {
        const [event] = await seed(1);
        await s.store.ack('tenant-a', event?.eventId as string, 1);
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, () => s.store.redeliver('tenant-a', event?.eventId as string)),
        );
        expect(outcomes.filter((o) => o.kind === 'redelivered')).toHaveLength(1);
      });
    });

    describe('listEvents', () => {
      const listAll = async (order: 'asc' | 'desc', limit: number, filters = {}) => {
        const seen: string[] = [];
        let after: InboxPosition | undefined;
        for (let pages = 0; pages < 100; pages += 1) {
          const page = await s.store.listEvents({ tenantId: 'tenant-a', filters, order, limit, after });
          seen.push(...ids(page.events));
          const last = page.events.at(-1);
          if (!page.hasMore) break;
          expect(page.events).toHaveLength(limit);
          after = last && { createdAt: last.createdAt, eventId: last.eventId };
        }
        return seen;
      };

      it('lists every status, newest first or oldest first, paging without gaps or repeats', async () => {
        const events = await seed(13);
        await s.store.ack('tenant-a', events[2]?.eventId as string, 1);
        await lease({ limit: 2 });
        expect(await listAll('desc', 4)).toEqual(ids(events).reverse());
        expect(await listAll('asc', 5)).toEqual(ids(events));
        const one = await s.store.listEvents({ tenantId: 'tenant-a', filters: {}, order: 'desc', limit: 13 });
        expect(one.hasMore).toBe(false);
      });

      it('filters by status, source, type and time before the limit', async () => {
        const events = await seed(24, (i) =>
          i % 4 === 0 ? { source: 'rare', eventType: 'order.paid' } : {},
        );
        for (const event of events.filter((_, i) => i % 3 === 0)) {
          await s.store.ack('tenant-a', event.eventId, 1);
        }
        const acked = ids(events.filter((_, i) => i % 3 === 0)).reverse();
        expect(await listAll('desc', 3, { status: 'acknowledged' })).toEqual(acked);
        const pending = ids(events.filter((_, i) => i % 3 !== 0)).reverse();
        expect(await listAll('desc', 3, { status: 'pending' })).toEqual(pending);
        const rare = ids(events.filter((_, i) => i % 4 === 0)).reverse();
        expect(await listAll('desc', 2, { source: 'rare' })).toEqual(rare);
        expect(await listAll('desc', 2, { eventType: 'order.paid' })).toEqual(rare);
        const from = events[5]?.createdAt as number;
        const to = events[9]?.createdAt as number;
        expect(await listAll('asc', 2, { createdAfter: from, createdBefore: to })).toEqual(
          ids(events.slice(6, 9)),
        );
      });

      it("never lists expired events nor another tenant's", async () => {
        await seed(2, () => ({ expiresAt: s.clock.now + SECOND }));
        s.clock.advance(SECOND);
        const fresh = await seed(1);
        await seed(1, () => ({ tenantId: 'tenant-b' }));
        expect(await listAll('desc', 10)).toEqual(ids(fresh));
      });
    });
  });
}
