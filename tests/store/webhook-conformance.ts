import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { EventStore, NewEvent, StoredEvent } from '../../server/src/store/event-store';
import {
  type AttemptOutcome,
  type AttemptResult,
  type ClaimedDelivery,
  type ClaimQuery,
  FAILING_DISABLE_MS,
  MAX_SUBSCRIPTIONS_PER_TENANT,
  type PagePosition,
  type StoredSubscription,
  type WebhookStore,
} from '../../server/src/store/webhook-store';
import type { FakeClock } from '../helpers/fake-clock';
import { DAY, storeFixtures } from './fixtures';

export interface WebhookStoresUnderTest {
  events: EventStore;
  webhooks: WebhookStore;
  clock: FakeClock;
  cleanup(): Promise<void>;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

/**
 * The WebhookStore conformance suite (DESIGN §11, server/src/store/webhook-store.ts): every
 * adapter must pass it unchanged. Each test gets a fresh, empty pair of stores over one
 * database from `makeStores`; time moves only through its FakeClock.
 */
export function describeWebhookStore(name: string, makeStores: () => Promise<WebhookStoresUnderTest>): void {
  describe(`WebhookStore conformance: ${name}`, () => {
    let s: WebhookStoresUnderTest;
    beforeEach(async () => {
      s = await makeStores();
    });
    afterEach(() => s.cleanup());

    const { newEvent, created } = storeFixtures(() => ({ store: s.events, clock: s.clock }));
    const newSubscription = (overrides: Partial<StoredSubscription> = {}): StoredSubscription => ({
      tenantId: 'tenant-a',
      subscriptionId: `sub_${uuidv7({ msecs: s.clock.now }).replaceAll('-', '')}`,
      targetUrl: 'https://hooks.example.com/triggers',
      eventTypes: [],
      sources: [],
      description: null,
      status: 'active',
      disabledReason: null,
      secret: `whsec_${randomBytes(32).toString('base64')}`,
      createdAt: s.clock.now,
      failingSince: null,
      ...overrides,
    });
    /** Creates a subscription, one millisecond after the previous one. */
    const subscribed = async (overrides: Partial<StoredSubscription> = {}): Promise<StoredSubscription> => {
      const subscription = newSubscription(overrides);
      const outcome = await s.webhooks.createSubscription(subscription);
      if (outcome.kind !== 'created') throw new Error(`expected created, got ${outcome.kind}`);
      s.clock.advance(1);
      return subscription;
    };
    const publish = (overrides: Partial<NewEvent> = {}): Promise<StoredEvent> =>
      created({ event: newEvent(overrides) });
    const claim = (overrides: Partial<ClaimQuery> = {}): Promise<ClaimedDelivery[]> =>
      s.webhooks.claimDue({ limit: 100, claimMs: MINUTE, ...overrides });
    /** What the deliverer records for an attempt at the claimed delivery, made now. */
    const result = (
      claimed: ClaimedDelivery,
      outcome: AttemptOutcome,
      overrides: Partial<AttemptResult> & { nextAttemptAt?: number; statusCode?: number | null } = {},
    ): AttemptResult => {
      const { nextAttemptAt, statusCode, ...rest } = overrides;
      return {
        attempt: {
          eventId: claimed.eventId,
          attempt: claimed.attempts + 1,
          attemptedAt: s.clock.now,
          statusCode: statusCode === undefined ? (outcome === 'succeeded' ? 204 : 503) : statusCode,
          durationMs: 42,
          error: outcome === 'succeeded' ? null : 'the target answered 503',
          outcome,
          nextAttemptAt: outcome === 'retrying' ? (nextAttemptAt ?? s.clock.now + 5 * SECOND) : null,
        },
        expiresAt: s.clock.now + 7 * DAY,
        ...rest,
      };
    };
    /** `{subscriptionId}/{eventId}` of each delivery, sorted: which pairs are due. */
    const pairs = (deliveries: Array<{ subscriptionId: string; eventId: string }>) =>
      deliveries.map((d) => `${d.subscriptionId}/${d.eventId}`).sort();
    const pair = (subscription: StoredSubscription, event: StoredEvent) =>
      `${subscription.subscriptionId}/${event.eventId}`;
    /** Every attempt in the subscription's log, following pages of `limit`. */
    const allAttempts = async (subscription: StoredSubscription, limit = 100, tenantId = 'tenant-a') => {
      const seen: Array<{ eventId: string; attempt: number; attemptedAt: number }> = [];
      let after: PagePosition | undefined;
      for (let pages = 0; pages < 100; pages += 1) {
        const page = await s.webhooks.listAttempts(tenantId, subscription.subscriptionId, limit, after);
        seen.push(...page.attempts);
        if (!page.hasMore) break;
        expect(page.attempts).toHaveLength(limit);
        after = page.attempts.at(-1)?.position;
      }
      return seen;
    };

    describe('subscriptions', () => {
      it('returns what was created, and undefined for an unknown id or another tenant', async () => {
        // Prepare
        const subscription = newSubscription({
          eventTypes: ['order.created', 'invoice.*'],
          sources: ['billing'],
          description: 'the warehouse',
        });
        // Act
        const outcome = await s.webhooks.createSubscription(subscription);
        // Assess
        expect(outcome).toEqual({ kind: 'created' });
        expect(await s.webhooks.getSubscription('tenant-a', subscription.subscriptionId)).toEqual(
          subscription,
        );
        expect(
          await s.webhooks.getSubscription('tenant-a', newSubscription().subscriptionId),
        ).toBeUndefined();
        expect(await s.webhooks.getSubscription('tenant-b', subscription.subscriptionId)).toBeUndefined();
      });

      it('lists newest first by createdAt then subscriptionId, page by page after the last position', async () => {
        // Prepare: five, two of them created in the same millisecond.
        const older = [await subscribed(), await subscribed(), await subscribed()];
        const at = s.clock.now;
        const low = await subscribed({ subscriptionId: `sub_${'0'.repeat(31)}1`, createdAt: at });
        const high = await subscribed({ subscriptionId: `sub_${'f'.repeat(32)}`, createdAt: at });
        await subscribed({ tenantId: 'tenant-b' });
        const newestFirst = [high, low, ...older.reverse()].map((sub) => sub.subscriptionId);
        // Act
        const pages = [];
        let after: PagePosition | undefined;
        for (let i = 0; i < 3; i += 1) {
          const page = await s.webhooks.listSubscriptions('tenant-a', 2, after);
          pages.push(page);
          const last = page.subscriptions.at(-1);
          after = last && { at: last.createdAt, id: last.subscriptionId };
        }
        // Assess
        expect(pages.map((page) => page.subscriptions.map((sub) => sub.subscriptionId))).toEqual([
          newestFirst.slice(0, 2),
          newestFirst.slice(2, 4),
          newestFirst.slice(4),
        ]);
        expect(pages.map((page) => page.hasMore)).toEqual([true, true, false]);
        expect(pages[0]?.subscriptions[0]).toEqual(high);
        const whole = await s.webhooks.listSubscriptions('tenant-a', 5);
        expect(whole.subscriptions).toHaveLength(5);
        expect(whole.hasMore).toBe(false);
      });

      it("lists only the tenant's own subscriptions", async () => {
        // Prepare
        const own = await subscribed();
        await subscribed({ tenantId: 'tenant-b' });
        // Act
        const listed = await s.webhooks.listSubscriptions('tenant-a', 10);
        const none = await s.webhooks.listSubscriptions('tenant-c', 10);
        // Assess
        expect(listed).toEqual({ subscriptions: [own], hasMore: false });
        expect(none).toEqual({ subscriptions: [], hasMore: false });
      });

      it(`refuses a tenant's ${MAX_SUBSCRIPTIONS_PER_TENANT + 1}st subscription with limit_reached, counting per tenant`, async () => {
        // Prepare
        const made: StoredSubscription[] = [];
        for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_TENANT; i += 1) made.push(await subscribed());
        // Act
        const refused = newSubscription();
        const outcome = await s.webhooks.createSubscription(refused);
        const otherTenant = await s.webhooks.createSubscription(newSubscription({ tenantId: 'tenant-b' }));
        await s.webhooks.deleteSubscription('tenant-a', made[0]?.subscriptionId as string);
        const afterDelete = await s.webhooks.createSubscription(newSubscription());
        // Assess
        expect(outcome).toEqual({ kind: 'limit_reached', limit: MAX_SUBSCRIPTIONS_PER_TENANT });
        expect(await s.webhooks.getSubscription('tenant-a', refused.subscriptionId)).toBeUndefined();
        expect(otherTenant).toEqual({ kind: 'created' });
        expect(afterDelete).toEqual({ kind: 'created' });
        const listed = await s.webhooks.listSubscriptions('tenant-a', 100);
        expect(listed.subscriptions).toHaveLength(MAX_SUBSCRIPTIONS_PER_TENANT);
      });

      it('deletes a subscription with its pending deliveries and its log, and deleting again is fine', async () => {
        // Prepare: two pending deliveries, one of them attempted once (logged).
        const subscription = await subscribed();
        const kept = await subscribed();
        await publish();
        await publish();
        const [first] = (await claim()).filter((d) => d.subscriptionId === subscription.subscriptionId);
        await s.webhooks.finishAttempt(
          first as ClaimedDelivery,
          result(first as ClaimedDelivery, 'retrying'),
        );
        // Act
        await s.webhooks.deleteSubscription('tenant-a', subscription.subscriptionId);
        await s.webhooks.deleteSubscription('tenant-a', subscription.subscriptionId);
        // Assess
        expect(await s.webhooks.getSubscription('tenant-a', subscription.subscriptionId)).toBeUndefined();
        expect((await s.webhooks.listSubscriptions('tenant-a', 10)).subscriptions).toEqual([kept]);
        expect(await allAttempts(subscription)).toEqual([]);
        s.clock.advance(DAY);
        const due = await claim();
        expect(due.map((d) => d.subscriptionId)).toEqual([kept.subscriptionId, kept.subscriptionId]);
      });

      it("never deletes another tenant's subscription nor its deliveries", async () => {
        // Prepare
        const subscription = await subscribed();
        await publish();
        // Act
        await s.webhooks.deleteSubscription('tenant-b', subscription.subscriptionId);
        // Assess
        expect(await s.webhooks.getSubscription('tenant-a', subscription.subscriptionId)).toEqual(
          subscription,
        );
        expect(await claim()).toHaveLength(1);
      });
    });

    describe('deliveries written by EventStore.create', () => {
      it("writes one delivery per matching active subscription, due at the event's createdAt with no attempts", async () => {
        // Prepare
        const a = await subscribed();
        const b = await subscribed({ eventTypes: ['order.created'] });
        await subscribed({ eventTypes: ['invoice.paid'] });
        // Act
        const event = await publish({ createdAt: s.clock.now - 5 * SECOND });
        // Assess
        expect(await s.webhooks.nextDueAt()).toBe(event.createdAt);
        const due = await claim({ claimMs: MINUTE });
        expect(pairs(due)).toEqual([pair(a, event), pair(b, event)].sort());
        for (const delivery of due) {
          expect(delivery).toEqual({
            tenantId: 'tenant-a',
            subscriptionId: delivery.subscriptionId,
            eventId: event.eventId,
            attempts: 0,
            nextAttemptAt: s.clock.now + MINUTE,
            claimId: expect.any(String),
            claimedUntil: s.clock.now + MINUTE,
          });
        }
      });

      it('matches exact types, `.*` prefixes and sources, and empty lists match every event', async () => {
        // Prepare
        const exact = await subscribed({ eventTypes: ['order.created'] });
        const prefix = await subscribed({ eventTypes: ['order.*'] });
        const bare = await subscribed({ eventTypes: ['order'] });
        const billing = await subscribed({ sources: ['billing'] });
        const shopOrders = await subscribed({
          eventTypes: ['order.*', 'refund.issued'],
          sources: ['shop', 'pos'],
        });
        const everything = await subscribed();
        // Act
        const created1 = await publish({ source: 'billing', eventType: 'order.created' });
        const paid = await publish({ source: 'shop', eventType: 'order.paid' });
        const plural = await publish({ source: 'billing', eventType: 'orders.created' });
        const plain = await publish({ source: 'shop', eventType: 'order' });
        const deep = await publish({ source: 'pos', eventType: 'order.line.added' });
        const refund = await publish({ source: 'pos', eventType: 'refund.issued' });
        // Assess
        expect(pairs(await claim())).toEqual(
          [
            pair(exact, created1),
            pair(prefix, created1),
            pair(billing, created1),
            pair(everything, created1),
            pair(prefix, paid),
            pair(shopOrders, paid),
            pair(everything, paid),
            pair(billing, plural),
            pair(everything, plural),
            pair(bare, plain),
            pair(everything, plain),
            pair(prefix, deep),
            pair(shopOrders, deep),
            pair(everything, deep),
            pair(shopOrders, refund),
            pair(everything, refund),
          ].sort(),
        );
      });

      it('matches subscriptions with the most and the longest patterns the contract allows', async () => {
        // Prepare: 20 types and 20 sources of up to 128 characters, mostly of 3 UTF-8 bytes.
        const long = (stem: string, i: number) => `${stem}${i}-`.padEnd(126, '€');
        const eventTypes = Array.from({ length: 20 }, (_, i) => `${long('type', i)}.*`);
        const sources = Array.from({ length: 20 }, (_, i) => long('source', i));
        const large = await subscribed({ eventTypes, sources });
        const small = await subscribed({ sources: [sources[3] as string] });
        // Act
        const both = await publish({ source: sources[3], eventType: `${long('type', 7)}.x` });
        const smallOnly = await publish({ source: sources[3], eventType: 'order.created' });
        await publish({ source: 'billing', eventType: `${long('type', 7)}.x` });
        // Assess
        expect(await s.webhooks.getSubscription('tenant-a', large.subscriptionId)).toEqual(large);
        expect(pairs(await claim())).toEqual(
          [pair(large, both), pair(small, both), pair(small, smallOnly)].sort(),
        );
      });

      it("writes none for another tenant's subscriptions, nor for events created before a subscription", async () => {
        // Prepare
        await publish();
        await subscribed({ tenantId: 'tenant-b' });
        // Act
        await publish();
        // Assess
        expect(await claim()).toEqual([]);
        expect(await s.webhooks.nextDueAt()).toBeUndefined();
      });

      it('writes none for a disabled subscription', async () => {
        // Prepare: a 410 disables the subscription.
        const gone = await subscribed();
        const active = await subscribed();
        await publish();
        const [delivery] = (await claim()).filter((d) => d.subscriptionId === gone.subscriptionId);
        await s.webhooks.finishAttempt(
          delivery as ClaimedDelivery,
          result(delivery as ClaimedDelivery, 'failed', { statusCode: 410, disable: 'gone' }),
        );
        s.clock.advance(2 * MINUTE);
        await claim();
        // Act
        const event = await publish();
        // Assess
        expect(pairs(await claim())).toEqual([pair(active, event)]);
      });

      it('writes the deliveries of an event created with an idempotency key, and none on a replay', async () => {
        // Prepare
        const subscription = await subscribed();
        const key = { key: 'k1', requestHash: 'hash-1', expiresAt: s.clock.now + DAY };
        // Act
        const first = await created({ event: newEvent(), idempotency: key });
        const replay = await s.events.create({ event: newEvent(), idempotency: key });
        const reused = await s.events.create({
          event: newEvent(),
          idempotency: { ...key, requestHash: 'h2' },
        });
        // Assess
        expect(replay.kind).toBe('replayed');
        expect(reused.kind).toBe('key_reused');
        expect(pairs(await claim())).toEqual([pair(subscription, first)]);
      });
    });

    describe('claimDue', () => {
      it('claims due deliveries only, earliest due first, across tenants, up to the limit', async () => {
        // Prepare
        await subscribed();
        await subscribed({ tenantId: 'tenant-b' });
        const now = s.clock.now;
        const later = await publish({ createdAt: now - 1 * SECOND });
        const earliest = await publish({ tenantId: 'tenant-b', createdAt: now - 3 * SECOND });
        const middle = await publish({ createdAt: now - 2 * SECOND });
        const future = await publish({ createdAt: now + 10 * SECOND });
        // Act
        const first = await claim({ limit: 2 });
        const second = await claim({ limit: 2 });
        const third = await claim();
        s.clock.advance(10 * SECOND);
        const fourth = await claim();
        // Assess
        expect(first.map((d) => [d.tenantId, d.eventId])).toEqual([
          ['tenant-b', earliest.eventId],
          ['tenant-a', middle.eventId],
        ]);
        expect(second.map((d) => d.eventId)).toEqual([later.eventId]);
        expect(third).toEqual([]);
        expect(fourth.map((d) => d.eventId)).toEqual([future.eventId]);
      });

      it('hides a claimed delivery until claimMs runs out, then gives it again under a new claim id', async () => {
        // Prepare
        await subscribed();
        await publish();
        // Act
        const start = s.clock.now;
        const [first] = await claim({ claimMs: 30 * SECOND });
        s.clock.advance(30 * SECOND - 1);
        const hidden = await claim();
        s.clock.advance(1);
        const [again] = await claim({ claimMs: 30 * SECOND });
        // Assess
        expect(first).toMatchObject({ attempts: 0, claimedUntil: start + 30 * SECOND });
        expect(hidden).toEqual([]);
        expect(again).toEqual({
          ...first,
          claimId: expect.any(String),
          nextAttemptAt: s.clock.now + 30 * SECOND,
          claimedUntil: s.clock.now + 30 * SECOND,
        });
        expect(again?.claimId).not.toBe(first?.claimId);
      });

      it('leaves the deliveries of skipSubscriptions due, for a later claim', async () => {
        // Prepare
        const busy = await subscribed();
        const idle = await subscribed();
        const event = await publish();
        // Act
        const claimed = await claim({ skipSubscriptions: new Set([busy.subscriptionId]) });
        const later = await claim();
        // Assess
        expect(pairs(claimed)).toEqual([pair(idle, event)]);
        expect(pairs(later)).toEqual([pair(busy, event)]);
      });

      it('never hands one delivery to two of 20 concurrent claims over 60 deliveries', async () => {
        // Prepare
        const subscriptions = [await subscribed(), await subscribed(), await subscribed()];
        const events: StoredEvent[] = [];
        for (let i = 0; i < 20; i += 1) {
          events.push(await publish({ tenantId: 'tenant-a' }));
          s.clock.advance(1);
        }
        // Act: 20 claims of up to 5 at once: more room (100) than deliveries.
        const results = await Promise.all(Array.from({ length: 20 }, () => claim({ limit: 5 })));
        // Assess
        const claimed = results.flat();
        expect(claimed).toHaveLength(60);
        expect(pairs(claimed)).toEqual(
          subscriptions.flatMap((sub) => events.map((event) => pair(sub, event))).sort(),
        );
        expect(new Set(claimed.map((d) => d.claimId)).size).toBe(60);
      });
    });

    describe('claim (one delivery by its keys)', () => {
      const claimOne = (
        subscription: StoredSubscription,
        event: StoredEvent,
        claimMs = MINUTE,
        tenantId = subscription.tenantId,
      ) => s.webhooks.claim(tenantId, subscription.subscriptionId, event.eventId, claimMs);

      it('claims a due delivery under a new claim id, hidden from claimDue until claimMs runs out', async () => {
        // Prepare
        const subscription = await subscribed();
        const event = await publish();
        const other = await publish();
        // Act
        const start = s.clock.now;
        const claimed = await claimOne(subscription, event, 30 * SECOND);
        const rest = await claim();
        s.clock.advance(30 * SECOND);
        const back = await claim();
        // Assess
        expect(claimed).toEqual({
          tenantId: 'tenant-a',
          subscriptionId: subscription.subscriptionId,
          eventId: event.eventId,
          attempts: 0,
          nextAttemptAt: start + 30 * SECOND,
          claimId: expect.any(String),
          claimedUntil: start + 30 * SECOND,
        });
        expect(pairs(rest)).toEqual([pair(subscription, other)]);
        expect(pairs(back)).toEqual([pair(subscription, event)]);
        expect(back[0]?.claimId).not.toBe(claimed?.claimId);
      });

      it('answers undefined while claimDue holds the delivery, and claims it once that claim ran out', async () => {
        // Prepare
        const subscription = await subscribed();
        const event = await publish();
        const [swept] = await claim({ claimMs: 10 * SECOND });
        // Act
        const held = await claimOne(subscription, event);
        s.clock.advance(10 * SECOND);
        const taken = await claimOne(subscription, event);
        // Assess
        expect(held).toBeUndefined();
        expect(taken).toMatchObject({ eventId: event.eventId, attempts: 0 });
        expect(taken?.claimId).not.toBe(swept?.claimId);
        const lost = await s.webhooks.finishAttempt(
          swept as ClaimedDelivery,
          result(swept as ClaimedDelivery, 'succeeded'),
        );
        expect(lost).toEqual({ kind: 'claim_lost' });
        const done = await s.webhooks.finishAttempt(
          taken as ClaimedDelivery,
          result(taken as ClaimedDelivery, 'succeeded'),
        );
        expect(done).toEqual({ kind: 'recorded', disabled: null });
      });

      it('answers undefined for a delivery retrying later, then claims it with its attempts once due', async () => {
        // Prepare
        const subscription = await subscribed();
        const event = await publish();
        const first = (await claimOne(subscription, event)) as ClaimedDelivery;
        await s.webhooks.finishAttempt(
          first,
          result(first, 'retrying', { nextAttemptAt: s.clock.now + 5 * SECOND }),
        );
        // Act
        const early = await claimOne(subscription, event);
        s.clock.advance(5 * SECOND);
        const due = await claimOne(subscription, event);
        // Assess
        expect(early).toBeUndefined();
        expect(due).toMatchObject({ eventId: event.eventId, attempts: 1 });
      });

      it('answers undefined for a delivery that is gone, unknown, or of another tenant', async () => {
        // Prepare
        const subscription = await subscribed();
        const delivered = await publish();
        const [claimed] = await claim();
        await s.webhooks.finishAttempt(
          claimed as ClaimedDelivery,
          result(claimed as ClaimedDelivery, 'succeeded'),
        );
        const pending = await publish();
        const unsubscribed = newSubscription();
        // Act
        const gone = await claimOne(subscription, delivered);
        const unknownEvent = await s.webhooks.claim(
          'tenant-a',
          subscription.subscriptionId,
          'evt_none',
          MINUTE,
        );
        const unknownSubscription = await claimOne(unsubscribed, pending);
        const otherTenant = await claimOne(subscription, pending, MINUTE, 'tenant-b');
        // Assess
        expect(gone).toBeUndefined();
        expect(unknownEvent).toBeUndefined();
        expect(unknownSubscription).toBeUndefined();
        expect(otherTenant).toBeUndefined();
        expect(pairs(await claim())).toEqual([pair(subscription, pending)]);
      });

      it('gives one delivery to exactly one of 10 concurrent claims, racing a claimDue', async () => {
        // Prepare
        const subscription = await subscribed();
        const event = await publish();
        // Act
        const [swept, ...direct] = await Promise.all([
          claim(),
          ...Array.from({ length: 10 }, () => claimOne(subscription, event)),
        ]);
        // Assess
        const winners = [...(swept as ClaimedDelivery[]), ...direct.filter((c) => c !== undefined)];
        expect(winners).toHaveLength(1);
      });
    });

    describe('finishAttempt', () => {
      it('keeps a retrying delivery due at its next attempt with one more attempt, and logs the attempt', async () => {
        // Prepare
        const subscription = await subscribed();
        const event = await publish();
        const [claimed] = await claim();
        const retry = result(claimed as ClaimedDelivery, 'retrying', {
          nextAttemptAt: s.clock.now + 5 * SECOND,
        });
        // Act
        const outcome = await s.webhooks.finishAttempt(claimed as ClaimedDelivery, retry);
        // Assess
        expect(outcome).toEqual({ kind: 'recorded', disabled: null });
        expect(await s.webhooks.nextDueAt()).toBe(s.clock.now + 5 * SECOND);
        s.clock.advance(5 * SECOND - 1);
        expect(await claim()).toEqual([]);
        s.clock.advance(1);
        expect(await claim()).toEqual([
          expect.objectContaining({
            subscriptionId: subscription.subscriptionId,
            eventId: event.eventId,
            attempts: 1,
          }),
        ]);
        const page = await s.webhooks.listAttempts('tenant-a', subscription.subscriptionId, 10);
        expect(page.hasMore).toBe(false);
        expect(page.attempts).toEqual([{ ...retry.attempt, position: expect.anything() }]);
      });

      it('deletes a delivery that succeeded or failed for good, and logs each attempt', async () => {
        // Prepare
        const subscription = await subscribed();
        const ok = await publish();
        const bad = await publish();
        const claimed = await claim();
        const of = (event: StoredEvent) =>
          claimed.find((d) => d.eventId === event.eventId) as ClaimedDelivery;
        const succeeded = result(of(ok), 'succeeded');
        s.clock.advance(1);
        // Act
        const first = await s.webhooks.finishAttempt(of(ok), succeeded);
        const failed = result(of(bad), 'failed', { statusCode: null });
        const second = await s.webhooks.finishAttempt(of(bad), failed);
        // Assess
        expect(first).toEqual({ kind: 'recorded', disabled: null });
        expect(second).toEqual({ kind: 'recorded', disabled: null });
        expect(await s.webhooks.nextDueAt()).toBeUndefined();
        s.clock.advance(DAY);
        expect(await claim()).toEqual([]);
        const page = await s.webhooks.listAttempts('tenant-a', subscription.subscriptionId, 10);
        expect(page.attempts.map(({ position: _, ...attempt }) => attempt)).toEqual([
          failed.attempt,
          succeeded.attempt,
        ]);
      });

      it('answers claim_lost under a claim id that is no longer current, and records nothing', async () => {
        // Prepare: the first claim runs out and another deliverer claims the delivery.
        const subscription = await subscribed();
        await publish();
        const [stale] = await claim({ claimMs: 10 * SECOND });
        s.clock.advance(10 * SECOND);
        const [current] = await claim({ claimMs: 10 * SECOND });
        // Act
        const lost = await s.webhooks.finishAttempt(
          stale as ClaimedDelivery,
          result(stale as ClaimedDelivery, 'succeeded'),
        );
        // Assess
        expect(lost).toEqual({ kind: 'claim_lost' });
        expect(await allAttempts(subscription)).toEqual([]);
        expect(await s.webhooks.nextDueAt()).toBe(current?.claimedUntil);
        const done = await s.webhooks.finishAttempt(
          current as ClaimedDelivery,
          result(current as ClaimedDelivery, 'succeeded'),
        );
        expect(done).toEqual({ kind: 'recorded', disabled: null });
        const again = await s.webhooks.finishAttempt(
          current as ClaimedDelivery,
          result(current as ClaimedDelivery, 'succeeded'),
        );
        expect(again).toEqual({ kind: 'claim_lost' });
        expect(await allAttempts(subscription)).toHaveLength(1);
      });

      it('answers claim_lost when the subscription was deleted during the attempt', async () => {
        // Prepare
        const subscription = await subscribed();
        await publish();
        const [claimed] = await claim();
        await s.webhooks.deleteSubscription('tenant-a', subscription.subscriptionId);
        // Act
        const outcome = await s.webhooks.finishAttempt(
          claimed as ClaimedDelivery,
          result(claimed as ClaimedDelivery, 'retrying'),
        );
        // Assess
        expect(outcome).toEqual({ kind: 'claim_lost' });
        expect(await s.webhooks.getSubscription('tenant-a', subscription.subscriptionId)).toBeUndefined();
        expect(await allAttempts(subscription)).toEqual([]);
      });

      it("disables the subscription on 'gone', with its reason, and drops its pending deliveries", async () => {
        // Prepare: three deliveries to it, and one to another subscription.
        const subscription = await subscribed();
        const other = await subscribed({ sources: ['elsewhere'] });
        await publish();
        await publish();
        await publish();
        const otherEvent = await publish({ source: 'elsewhere' });
        const claimed = (await claim()).find((d) => d.subscriptionId === subscription.subscriptionId);
        const gone = result(claimed as ClaimedDelivery, 'failed', { statusCode: 410, disable: 'gone' });
        // Act
        const outcome = await s.webhooks.finishAttempt(claimed as ClaimedDelivery, gone);
        // Assess
        expect(outcome).toEqual({ kind: 'recorded', disabled: 'gone' });
        expect(await s.webhooks.getSubscription('tenant-a', subscription.subscriptionId)).toEqual({
          ...subscription,
          status: 'disabled',
          disabledReason: 'gone',
          failingSince: gone.attempt.attemptedAt,
        });
        const listed = await s.webhooks.listAttempts('tenant-a', subscription.subscriptionId, 10);
        expect(listed.attempts.map(({ position: _, ...attempt }) => attempt)).toEqual([gone.attempt]);
        s.clock.advance(DAY);
        expect(pairs(await claim())).toEqual([pair(other, otherEvent)]);
      });

      it('sets failingSince at the first failed attempt, keeps it through more failures and clears it on success', async () => {
        // Prepare
        const subscription = await subscribed();
        await publish();
        await publish();
        const failingSince = () =>
          s.webhooks
            .getSubscription('tenant-a', subscription.subscriptionId)
            .then((sub) => sub?.failingSince);
        const [a, b] = await claim({ claimMs: DAY });
        // Act
        const start = s.clock.now;
        await s.webhooks.finishAttempt(a as ClaimedDelivery, result(a as ClaimedDelivery, 'retrying'));
        const afterFirst = await failingSince();
        s.clock.advance(MINUTE);
        await s.webhooks.finishAttempt(b as ClaimedDelivery, result(b as ClaimedDelivery, 'failed'));
        const afterSecond = await failingSince();
        s.clock.advance(MINUTE);
        const [c] = await claim();
        await s.webhooks.finishAttempt(c as ClaimedDelivery, result(c as ClaimedDelivery, 'succeeded'));
        const afterSuccess = await failingSince();
        // Assess
        expect(afterFirst).toBe(start);
        expect(afterSecond).toBe(start);
        expect(afterSuccess).toBeNull();
        expect(await s.webhooks.getSubscription('tenant-a', subscription.subscriptionId)).toMatchObject({
          status: 'active',
          disabledReason: null,
        });
      });

      it("disables with 'failing' the first failure FAILING_DISABLE_MS after failingSince, not a moment before", async () => {
        // Prepare: four deliveries, three claimed for longer than the whole test.
        const subscription = await subscribed();
        for (let i = 0; i < 4; i += 1) await publish();
        const [a, b, c] = await claim({ limit: 3, claimMs: 10 * DAY });
        const fail = (claimed?: ClaimedDelivery) =>
          s.webhooks.finishAttempt(
            claimed as ClaimedDelivery,
            result(claimed as ClaimedDelivery, 'retrying'),
          );
        // Act
        const start = s.clock.now;
        const first = await fail(a);
        s.clock.advance(FAILING_DISABLE_MS - 1);
        const before = await fail(b);
        const stillActive = await s.webhooks.getSubscription('tenant-a', subscription.subscriptionId);
        s.clock.advance(1);
        const disabling = await fail(c);
        // Assess
        expect(first).toEqual({ kind: 'recorded', disabled: null });
        expect(before).toEqual({ kind: 'recorded', disabled: null });
        expect(stillActive).toMatchObject({ status: 'active', failingSince: start });
        expect(disabling).toEqual({ kind: 'recorded', disabled: 'failing' });
        expect(await s.webhooks.getSubscription('tenant-a', subscription.subscriptionId)).toMatchObject({
          status: 'disabled',
          disabledReason: 'failing',
        });
        expect(await allAttempts(subscription)).toHaveLength(3);
        s.clock.advance(20 * DAY);
        expect(await claim()).toEqual([]);
        expect(await s.webhooks.nextDueAt()).toBeUndefined();
      });
    });

    describe('dropDelivery', () => {
      it('drops a claimed delivery without logging an attempt', async () => {
        // Prepare
        const subscription = await subscribed();
        await publish();
        const [claimed] = await claim({ claimMs: SECOND });
        // Act
        await s.webhooks.dropDelivery(claimed as ClaimedDelivery);
        // Assess
        s.clock.advance(DAY);
        expect(await claim()).toEqual([]);
        expect(await s.webhooks.nextDueAt()).toBeUndefined();
        expect(await allAttempts(subscription)).toEqual([]);
      });
    });

    describe('listAttempts', () => {
      it('lists newest first, page by page after the last position, without gaps or repeats', async () => {
        // Prepare: seven attempts over two events, two of them in the same millisecond.
        const subscription = await subscribed();
        await publish();
        await publish();
        const made: AttemptResult['attempt'][] = [];
        for (let round = 0; round < 3; round += 1) {
          for (const claimed of await claim()) {
            const retry = result(claimed, 'retrying', { nextAttemptAt: s.clock.now + SECOND });
            await s.webhooks.finishAttempt(claimed, retry);
            made.push(retry.attempt);
          }
          s.clock.advance(SECOND);
        }
        const [last] = await claim({ limit: 1 });
        s.clock.advance(1);
        const success = result(last as ClaimedDelivery, 'succeeded');
        await s.webhooks.finishAttempt(last as ClaimedDelivery, success);
        made.push(success.attempt);
        // Act
        const paged = await allAttempts(subscription, 2);
        const whole = await s.webhooks.listAttempts('tenant-a', subscription.subscriptionId, 7);
        // Assess
        expect(paged.map(({ eventId, attempt }) => `${eventId}#${attempt}`).sort()).toEqual(
          made.map(({ eventId, attempt }) => `${eventId}#${attempt}`).sort(),
        );
        expect(paged.map((a) => a.attemptedAt)).toEqual(made.map((a) => a.attemptedAt).sort((x, y) => y - x));
        expect(paged[0]).toEqual({ ...success.attempt, position: expect.anything() });
        expect(whole.attempts).toHaveLength(7);
        expect(whole.hasMore).toBe(false);
      });

      it("lists nothing of another tenant's subscription, nor of an unknown one", async () => {
        // Prepare
        const subscription = await subscribed();
        await publish();
        const [claimed] = await claim();
        await s.webhooks.finishAttempt(
          claimed as ClaimedDelivery,
          result(claimed as ClaimedDelivery, 'succeeded'),
        );
        // Act
        const other = await s.webhooks.listAttempts('tenant-b', subscription.subscriptionId, 10);
        const unknown = await s.webhooks.listAttempts('tenant-a', newSubscription().subscriptionId, 10);
        // Assess
        expect(other).toEqual({ attempts: [], hasMore: false });
        expect(unknown).toEqual({ attempts: [], hasMore: false });
        expect(await allAttempts(subscription)).toHaveLength(1);
      });
    });

    describe('nextDueAt', () => {
      it('answers the earliest nextAttemptAt of any delivery, claimed ones included, and undefined with none', async () => {
        // Prepare
        await subscribed();
        const empty = await s.webhooks.nextDueAt();
        const now = s.clock.now;
        await publish({ createdAt: now - 2 * SECOND });
        await publish({ tenantId: 'tenant-b', createdAt: now - 3 * SECOND });
        await subscribed({ tenantId: 'tenant-b' });
        await publish({ tenantId: 'tenant-b', createdAt: now - SECOND });
        // Act
        const before = await s.webhooks.nextDueAt();
        const [claimed] = await claim({ limit: 1, claimMs: MINUTE });
        const afterOne = await s.webhooks.nextDueAt();
        await claim({ claimMs: 2 * MINUTE });
        const allClaimed = await s.webhooks.nextDueAt();
        // Assess
        expect(empty).toBeUndefined();
        expect(before).toBe(now - 2 * SECOND);
        expect(claimed?.claimedUntil).toBe(s.clock.now + MINUTE);
        expect(afterOne).toBe(now - SECOND);
        expect(allClaimed).toBe(s.clock.now + MINUTE);
      });
    });
  });
}
