import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { NewEvent } from '../../server/src/store/event-store';
import { DAY, type StoreUnderTest, storeFixtures } from './fixtures';
import { describeLeases } from './lease-conformance';

export type { StoreUnderTest } from './fixtures';

/**
 * The EventStore / KeyStore conformance suite: every adapter must pass it unchanged. Each
 * test gets a fresh, empty store from `makeStore`.
 */
export function describeEventStore(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`EventStore conformance: ${name}`, () => {
    let s: StoreUnderTest;
    beforeEach(async () => {
      s = await makeStore();
    });
    afterEach(() => s.cleanup());

    const { newEvent, created } = storeFixtures(() => s);
    const claim = (key: string, requestHash = 'hash-1') => ({
      key,
      requestHash,
      expiresAt: s.clock.now + DAY,
    });

    describe('create, get and delete', () => {
      it('returns what was created, pending and unacknowledged', async () => {
        const event = newEvent({ metadata: { priority: 'high', team: { a: [1, 2] } }, priority: 'high' });
        await created({ event });
        const got = await s.store.get('tenant-a', event.eventId);
        expect(got).toEqual({
          ...event,
          status: 'pending',
          acknowledgedAt: null,
          deliveryCount: 0,
          leaseId: null,
          leasedUntil: null,
          availableAt: event.createdAt,
          leaseStartedAt: null,
        });
      });

      it('returns undefined for an unknown id and for another tenant', async () => {
        const event = newEvent();
        await created({ event });
        expect(await s.store.get('tenant-a', uuidv7())).toBeUndefined();
        expect(await s.store.get('tenant-b', event.eventId)).toBeUndefined();
      });

      it('deletes, and deleting again or deleting across tenants is not an error', async () => {
        const event = newEvent();
        await created({ event });
        await s.store.delete('tenant-b', event.eventId);
        expect(await s.store.get('tenant-a', event.eventId)).toBeDefined();
        await s.store.delete('tenant-a', event.eventId);
        await s.store.delete('tenant-a', event.eventId);
        expect(await s.store.get('tenant-a', event.eventId)).toBeUndefined();
      });

      it('round-trips a 409,600-byte incompressible payload byte-identical', async () => {
        const payloadJson = JSON.stringify({
          data: randomBytes(409_600)
            .toString('base64')
            .slice(0, 409_600 - 11),
        });
        expect(Buffer.byteLength(payloadJson)).toBe(409_600);
        const event = newEvent({ payloadJson });
        await created({ event });
        expect((await s.store.get('tenant-a', event.eventId))?.payloadJson).toBe(payloadJson);
      });
    });

    describe('idempotency', () => {
      it('replays the record for the same key and hash, and reports key_reused for another hash', async () => {
        const first = newEvent();
        await created({ event: first, idempotency: claim('k') });
        const replay = await s.store.create({ event: newEvent(), idempotency: claim('k') });
        const reused = await s.store.create({ event: newEvent(), idempotency: claim('k', 'hash-2') });
        expect(replay).toEqual({
          kind: 'replayed',
          record: {
            key: 'k',
            requestHash: 'hash-1',
            eventId: first.eventId,
            createdAt: first.createdAt,
            eventExpiresAt: first.expiresAt,
          },
        });
        expect(reused.kind).toBe('key_reused');
      });

      it('writes exactly one event for 30 concurrent creates with one key', async () => {
        const outcomes = await Promise.all(
          Array.from({ length: 30 }, () => s.store.create({ event: newEvent(), idempotency: claim('race') })),
        );
        const createdOnes = outcomes.filter((o) => o.kind === 'created');
        expect(createdOnes).toHaveLength(1);
        const winner = createdOnes[0]?.kind === 'created' ? createdOnes[0].event.eventId : '';
        for (const outcome of outcomes) {
          if (outcome.kind === 'replayed') expect(outcome.record.eventId).toBe(winner);
        }
        const page = await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 100 });
        expect(page.events.map((e) => e.eventId)).toEqual([winner]);
      });

      it('scopes keys per tenant', async () => {
        await created({ event: newEvent(), idempotency: claim('shared') });
        const other = await s.store.create({
          event: newEvent({ tenantId: 'tenant-b' }),
          idempotency: claim('shared'),
        });
        expect(other.kind).toBe('created');
      });

      it('lets an expired key be claimed again', async () => {
        await created({ event: newEvent(), idempotency: claim('old') });
        s.clock.advance(DAY + 1);
        const again = await s.store.create({ event: newEvent(), idempotency: claim('old', 'hash-2') });
        expect(again.kind).toBe('created');
      });
    });

    describe('ack', () => {
      it('acks a pending event once; a second ack reports not_pending with the first time', async () => {
        const event = newEvent();
        await created({ event });
        const first = await s.store.ack('tenant-a', event.eventId, 1_000);
        const second = await s.store.ack('tenant-a', event.eventId, 2_000);
        expect(first).toEqual({ kind: 'acked', acknowledgedAt: 1_000 });
        expect(second).toEqual({ kind: 'not_pending', status: 'acknowledged', acknowledgedAt: 1_000 });
        expect(await s.store.get('tenant-a', event.eventId)).toMatchObject({
          status: 'acknowledged',
          acknowledgedAt: 1_000,
        });
      });

      it('reports not_found for unknown ids and for another tenant', async () => {
        const event = newEvent();
        await created({ event });
        expect(await s.store.ack('tenant-b', event.eventId, 1)).toEqual({ kind: 'not_found' });
        expect(await s.store.ack('tenant-a', uuidv7(), 1)).toEqual({ kind: 'not_found' });
      });

      it('lets exactly one of 20 concurrent acks win', async () => {
        const event = newEvent();
        await created({ event });
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) => s.store.ack('tenant-a', event.eventId, 1_000 + i)),
        );
        expect(outcomes.filter((o) => o.kind === 'acked')).toHaveLength(1);
        expect(outcomes.filter((o) => o.kind === 'not_pending')).toHaveLength(19);
      });
    });

    describe('listPending', () => {
      const seed = async (count: number, overrides: (i: number) => Partial<NewEvent> = () => ({})) => {
        const events: NewEvent[] = [];
        for (let i = 0; i < count; i += 1) {
          if (i % 2) s.clock.advance(1);
          const event = newEvent(overrides(i));
          await created({ event });
          events.push(event);
        }
        return events;
      };
      const order = (a: { createdAt: number; eventId: string }, b: { createdAt: number; eventId: string }) =>
        a.createdAt - b.createdAt || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

      it('lists oldest first with an exact hasMore', async () => {
        const events = await seed(7);
        const full = await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 7 });
        const short = await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 6 });
        expect(full.events.map((e) => e.eventId)).toEqual([...events].sort(order).map((e) => e.eventId));
        expect(full.hasMore).toBe(false);
        expect(short.hasMore).toBe(true);
      });

      it('pages after a position without gaps or repeats while acking', async () => {
        const events = await seed(25);
        const seen: string[] = [];
        let after: { createdAt: number; eventId: string } | undefined;
        for (let pages = 0; pages < 20; pages += 1) {
          const page = await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 4, after });
          for (const e of page.events) {
            seen.push(e.eventId);
            await s.store.ack('tenant-a', e.eventId, s.clock.now);
          }
          const last = page.events.at(-1);
          if (!page.hasMore || !last) break;
          expect(page.events).toHaveLength(4);
          after = { createdAt: last.createdAt, eventId: last.eventId };
        }
        expect(seen).toEqual([...events].sort(order).map((e) => e.eventId));
      });

      it('applies every filter before the limit', async () => {
        await seed(40, (i) =>
          i % 8 === 0
            ? { source: 'rare', eventType: 'order.paid', priority: 'high', metadata: { priority: 'high' } }
            : {},
        );
        for (const filters of [
          { source: 'rare' },
          { eventType: 'order.paid' },
          { priority: 'high' as const },
        ]) {
          const page = await s.store.listPending({ tenantId: 'tenant-a', filters, limit: 3 });
          expect(page.events).toHaveLength(3);
          expect(page.hasMore).toBe(true);
          expect(page.events.every((e) => e.source === 'rare')).toBe(true);
        }
      });

      it('bounds by created_after and created_before, both exclusive', async () => {
        const events = (await seed(10)).sort(order);
        const from = events[2]?.createdAt as number;
        const to = events[8]?.createdAt as number;
        const page = await s.store.listPending({
          tenantId: 'tenant-a',
          filters: { createdAfter: from, createdBefore: to },
          limit: 100,
        });
        expect(page.events.length).toBeGreaterThan(0);
        expect(page.events.every((e) => e.createdAt > from && e.createdAt < to)).toBe(true);
      });

      it('never returns expired events, and get and ack treat them as gone', async () => {
        const old = await seed(2);
        s.clock.advance(7 * DAY);
        const fresh = await seed(1);
        const page = await s.store.listPending({ tenantId: 'tenant-a', filters: {}, limit: 10 });
        expect(page.events.map((e) => e.eventId)).toEqual(fresh.map((e) => e.eventId));
        expect(page.hasMore).toBe(false);
        expect(await s.store.get('tenant-a', old[0]?.eventId as string)).toBeUndefined();
        expect(await s.store.ack('tenant-a', old[0]?.eventId as string, 1)).toEqual({ kind: 'not_found' });
      });

      it("never lists another tenant's events", async () => {
        await seed(3);
        const page = await s.store.listPending({ tenantId: 'tenant-b', filters: {}, limit: 10 });
        expect(page).toEqual({ events: [], hasMore: false });
      });
    });

    describe('countPending', () => {
      const seedTenant = async (tenantId: string, count: number) => {
        const events: NewEvent[] = [];
        for (let i = 0; i < count; i += 1) {
          const event = newEvent({ tenantId });
          await created({ event });
          events.push(event);
        }
        return events;
      };

      it('counts an empty store as nothing pending', async () => {
        expect(await s.store.countPending(10)).toEqual({ top: [], total: 0, complete: true });
      });

      it('counts pending and leased events per tenant, most first, but neither acked nor dead ones', async () => {
        // Prepare: tenant-a 3 events, one acked, one leased; tenant-b 2; tenant-c 2, one dead.
        const [acked] = await seedTenant('tenant-a', 3);
        await seedTenant('tenant-b', 2);
        await seedTenant('tenant-c', 2);
        await s.store.ack('tenant-a', acked?.eventId as string, s.clock.now);
        const lease = (tenantId: string, limit: number) =>
          s.store.lease({ tenantId, filters: {}, limit, visibilityTimeoutMs: 60_000, maxDeliveries: 1 });
        await lease('tenant-a', 1);
        const [doomed] = await lease('tenant-c', 1);
        await s.store.nack('tenant-c', doomed?.eventId as string, doomed?.leaseId as string, 0, 1);

        // Act
        const counts = await s.store.countPending(10);

        // Assess: ties by tenant id.
        expect((await s.store.get('tenant-c', doomed?.eventId as string))?.status).toBe('dead');
        expect(counts).toEqual({
          top: [
            { tenantId: 'tenant-a', pending: 2 },
            { tenantId: 'tenant-b', pending: 2 },
            { tenantId: 'tenant-c', pending: 1 },
          ],
          total: 5,
          complete: true,
        });
      });

      it('keeps the top tenants only, while the total counts every tenant', async () => {
        // Prepare
        await seedTenant('tenant-a', 1);
        await seedTenant('tenant-b', 3);
        await seedTenant('tenant-c', 2);

        // Act
        const counts = await s.store.countPending(2);

        // Assess
        expect(counts).toEqual({
          top: [
            { tenantId: 'tenant-b', pending: 3 },
            { tenantId: 'tenant-c', pending: 2 },
          ],
          total: 6,
          complete: true,
        });
      });

      it('leaves expired events out', async () => {
        // Prepare: two events expire, a later one does not.
        await seedTenant('tenant-a', 2);
        s.clock.advance(7 * DAY);
        await seedTenant('tenant-b', 1);

        // Act
        const counts = await s.store.countPending(10);

        // Assess
        expect(counts).toEqual({ top: [{ tenantId: 'tenant-b', pending: 1 }], total: 1, complete: true });
      });
    });

    it('answers ping while open', async () => {
      await expect(s.store.ping()).resolves.toBeUndefined();
    });
  });

  describeLeases(name, makeStore);

  describe(`KeyStore conformance: ${name}`, () => {
    let s: StoreUnderTest;
    beforeEach(async () => {
      s = await makeStore();
    });
    afterEach(() => s.cleanup());

    const record = (keyId: string, tenantId = 'acme') => ({
      keyId,
      secretHash: `${keyId}-hash`.padEnd(64, '0'),
      tenantId,
      source: 'shop',
      scopes: ['events:read' as const],
      isActive: true,
      createdAt: 1_000,
      revokedAt: null,
    });

    it('finds a key by its hash, lists by tenant, and revokes', async () => {
      await s.keys.create(record('key1'));
      await s.keys.create(record('key2', 'other'));
      expect(await s.keys.findByHash(record('key1').secretHash)).toEqual(record('key1'));
      expect(await s.keys.findByHash('0'.repeat(64))).toBeUndefined();
      expect((await s.keys.list('acme')).map((k) => k.keyId)).toEqual(['key1']);
      expect((await s.keys.list()).map((k) => k.keyId).sort()).toEqual(['key1', 'key2']);
      expect(await s.keys.revoke('key1', 5_000)).toBe(true);
      expect(await s.keys.revoke('missing', 5_000)).toBe(false);
      expect(await s.keys.findByHash(record('key1').secretHash)).toMatchObject({
        isActive: false,
        revokedAt: 5_000,
      });
    });

    it('keeps a key without a source as null, and one with a source as given (issue 15)', async () => {
      // Prepare
      const unrestricted = { ...record('key3'), source: null };

      // Act
      await s.keys.create(unrestricted);
      await s.keys.create(record('key4'));

      // Assess
      expect(await s.keys.findByHash(unrestricted.secretHash)).toEqual(unrestricted);
      expect((await s.keys.findByHash(record('key4').secretHash))?.source).toBe('shop');
      expect((await s.keys.list('acme')).map((k) => [k.keyId, k.source])).toEqual([
        ['key3', null],
        ['key4', 'shop'],
      ]);
    });
  });
}
