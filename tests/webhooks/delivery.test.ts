import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { Deliverer } from '../../server/src/webhooks/deliverer';
import { createPoster } from '../../server/src/webhooks/post';
import { TargetGuard } from '../../server/src/webhooks/target-guard';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;

interface Options {
  retryScheduleSeconds?: number[];
  timeoutMs?: number;
  concurrencyPerTarget?: number;
  random?: () => number;
}

/** The real app on a real store, a deliverer on the same store and fake clock, real receivers. */
async function webhookApp(options: Options = {}) {
  let deliverer: Deliverer | undefined;
  const t: TestApp = await createTestApp({}, undefined, { onEventsCreated: () => deliverer?.notify() });
  const timeoutMs = options.timeoutMs ?? 15 * SECOND;
  deliverer = new Deliverer({
    webhooks: t.webhooks,
    events: t.store,
    clock: t.clock.read,
    logger: pino({ level: 'silent' }),
    poster: createPoster(new TargetGuard('local'), {
      timeoutMs,
      socketsPerHost: options.concurrencyPerTarget ?? 20,
    }),
    retryScheduleSeconds: options.retryScheduleSeconds ?? [5, 300, 1800, 7200, 18000, 36000, 36000],
    concurrency: 50,
    concurrencyPerTarget: options.concurrencyPerTarget ?? 20,
    claimMs: timeoutMs * 2 + SECOND,
    userAgent: 'TriggersAPI-Webhooks/1.0.0',
    pollIntervalMs: 50,
    random: options.random ?? (() => 0.5),
  });
  deliverer.start();
  const receivers: WebhookReceiver[] = [];
  const d = deliverer;
  return {
    t,
    deliverer: d,
    async receiver() {
      const receiver = await startReceiver();
      receivers.push(receiver);
      return receiver;
    },
    async subscribe(body: Record<string, unknown>) {
      const res = await checked(
        request(t.app).post('/v1/subscriptions').set('X-API-Key', DEV_KEY).send(body),
        201,
      );
      return res.body as { subscription_id: string; secret: string };
    },
    async ingest(fields: Record<string, unknown> = {}) {
      const res = await checked(
        request(t.app)
          .post('/v1/events')
          .set('X-API-Key', DEV_KEY)
          .send({ source: 'billing', event_type: 'order.created', payload: { n: 1 }, ...fields }),
        201,
      );
      return res.body.event_id as string;
    },
    async log(subscriptionId: string) {
      const res = await checked(
        request(t.app).get(`/v1/subscriptions/${subscriptionId}/deliveries`).set('X-API-Key', DEV_KEY),
        200,
      );
      return res.body.deliveries as Array<Record<string, unknown>>;
    },
    async getSubscription(subscriptionId: string) {
      const res = await checked(
        request(t.app).get(`/v1/subscriptions/${subscriptionId}`).set('X-API-Key', DEV_KEY),
        200,
      );
      return res.body as Record<string, unknown>;
    },
    /** Moves the fake clock and lets the deliverer act on what became due. */
    async advance(ms: number) {
      t.clock.advance(ms);
      d.notify();
      await until(() => true, 'a turn');
      await d.idle();
    },
    async close() {
      await d.stop();
      for (const receiver of receivers) await receiver.close();
      await t.close();
    },
  };
}

type WebhookApp = Awaited<ReturnType<typeof webhookApp>>;

describe('Webhook delivery (DESIGN §11)', () => {
  let w: WebhookApp;
  afterEach(() => w.close());

  it('POSTs each matching event, signed so that the standardwebhooks verifier accepts it, as GET shows it', async () => {
    // Prepare
    w = await webhookApp();
    const receiver = await w.receiver();
    const { secret } = await w.subscribe({ target_url: receiver.url, event_types: ['order.*'] });
    // Act
    const eventId = await w.ingest({ event_type: 'order.created', payload: { amount: 49.95, note: 'é ✓' } });
    await w.ingest({ event_type: 'user.signup' });
    await until(() => receiver.received.length === 1, 'the webhook arrived');
    await w.deliverer.idle();
    // Assess
    const [webhook] = receiver.received;
    const verified = new Webhook(secret).verify(
      webhook?.body ?? '',
      webhook?.headers as Record<string, string>,
    );
    const shown = await request(w.t.app).get(`/v1/events/${eventId}`).set('X-API-Key', DEV_KEY);
    const { request_id: _, ...event } = shown.body;
    expect(verified).toEqual(event);
    expect(webhook?.headers['webhook-id']).toBe(eventId);
    expect(Number(webhook?.headers['webhook-timestamp'])).toBe(Math.floor(w.t.clock.now / 1000));
    expect(webhook?.headers['content-type']).toBe('application/json');
    expect(webhook?.headers['user-agent']).toMatch(/^TriggersAPI-Webhooks\/\d+\.\d+\.\d+$/);
    expect(receiver.received).toHaveLength(1);
  });

  it('is refused by the verifier when the body or the secret is not the one signed', async () => {
    // Prepare
    w = await webhookApp();
    const receiver = await w.receiver();
    const { secret } = await w.subscribe({ target_url: receiver.url });
    const other = await w.subscribe({ target_url: `${receiver.url}?other` });
    await w.ingest();
    await until(() => receiver.received.length === 2, 'both webhooks arrived');
    // In no guaranteed order: the one for the first subscription, by its URL.
    const webhook = receiver.received.find((received) => received.path === '/hooks');
    const headers = webhook?.headers as Record<string, string>;
    // Act + Assess
    expect(() => new Webhook(secret).verify(`${webhook?.body} `, headers)).toThrow();
    expect(() => new Webhook(other.secret).verify(webhook?.body ?? '', headers)).toThrow();
  });

  it('retries a failed attempt after the schedule delay, with the same webhook-id, and logs each attempt newest first', async () => {
    // Prepare
    w = await webhookApp({ retryScheduleSeconds: [5, 300] });
    const receiver = await w.receiver();
    receiver.respond = () => ({ status: receiver.received.length === 1 ? 503 : 200 });
    const { subscription_id } = await w.subscribe({ target_url: receiver.url });
    const eventId = await w.ingest();
    await until(() => receiver.received.length === 1, 'the first attempt');
    await w.deliverer.idle();
    const [first] = await w.log(subscription_id);
    // Act: just before the delay nothing is sent; at the delay the retry goes out
    await w.advance(5 * SECOND - 1);
    const before = receiver.received.length;
    await w.advance(1);
    await until(() => receiver.received.length === 2, 'the retry');
    await w.deliverer.idle();
    // Assess
    expect(before).toBe(1);
    expect(first).toMatchObject({ event_id: eventId, attempt: 1, status_code: 503, outcome: 'retrying' });
    expect(Date.parse(first?.next_attempt_at as string) - Date.parse(first?.attempted_at as string)).toBe(
      5 * SECOND,
    );
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([eventId, eventId]);
    const log = await w.log(subscription_id);
    expect(log.map((entry) => [entry.attempt, entry.outcome, entry.status_code])).toEqual([
      [2, 'succeeded', 200],
      [1, 'retrying', 503],
    ]);
    expect(log[0]).toMatchObject({ error: null, next_attempt_at: null });
    expect(log[1]?.error).toBe('The target answered 503.');
  });

  it.each([
    [0, 0.8],
    [0.999999, 1.2],
  ])('jitters a retry delay by at most 20 %% (random %p gives %p x the delay)', async (random, factor) => {
    // Prepare
    w = await webhookApp({ retryScheduleSeconds: [300], random: () => random });
    const receiver = await w.receiver();
    receiver.respond = () => ({ status: 500 });
    const { subscription_id } = await w.subscribe({ target_url: receiver.url });
    // Act
    await w.ingest();
    await until(() => receiver.received.length === 1, 'the first attempt');
    await w.deliverer.idle();
    // Assess
    const [entry] = await w.log(subscription_id);
    const delay = Date.parse(entry?.next_attempt_at as string) - Date.parse(entry?.attempted_at as string);
    expect(delay).toBeCloseTo(300 * SECOND * factor, -1);
  });

  it('marks the delivery failed after the last attempt of the schedule, and sends nothing more', async () => {
    // Prepare
    w = await webhookApp({ retryScheduleSeconds: [1, 2] });
    const receiver = await w.receiver();
    receiver.respond = () => ({ status: 500 });
    const { subscription_id } = await w.subscribe({ target_url: receiver.url });
    await w.ingest();
    await until(() => receiver.received.length === 1, 'the first attempt');
    await w.deliverer.idle();
    // Act
    await w.advance(1 * SECOND);
    await until(() => receiver.received.length === 2, 'the second attempt');
    await w.deliverer.idle();
    await w.advance(2 * SECOND);
    await until(() => receiver.received.length === 3, 'the third attempt');
    await w.deliverer.idle();
    await w.advance(DAY);
    // Assess
    const log = await w.log(subscription_id);
    expect(log.map((entry) => [entry.attempt, entry.outcome])).toEqual([
      [3, 'failed'],
      [2, 'retrying'],
      [1, 'retrying'],
    ]);
    expect(receiver.received).toHaveLength(3);
    expect(await w.t.webhooks.nextDueAt()).toBeUndefined();
    expect(await w.getSubscription(subscription_id)).toMatchObject({ status: 'active' });
  });

  it('disables the subscription at once when the target answers 410 Gone', async () => {
    // Prepare
    w = await webhookApp();
    const receiver = await w.receiver();
    receiver.respond = () => ({ status: 410 });
    const { subscription_id } = await w.subscribe({ target_url: receiver.url });
    // Act
    await w.ingest();
    await until(() => receiver.received.length === 1, 'the attempt');
    await w.deliverer.idle();
    await w.ingest();
    await w.advance(DAY);
    // Assess
    expect(await w.getSubscription(subscription_id)).toMatchObject({
      status: 'disabled',
      disabled_reason: 'gone',
    });
    expect((await w.log(subscription_id))[0]).toMatchObject({ outcome: 'failed', status_code: 410 });
    expect(receiver.received).toHaveLength(1);
  });

  it('disables a subscription whose every attempt has failed for 5 days', async () => {
    // Prepare: one retry a day, a target that always fails
    w = await webhookApp({ retryScheduleSeconds: [86_400, 86_400, 86_400, 86_400, 86_400, 86_400] });
    const receiver = await w.receiver();
    receiver.respond = () => ({ status: 500 });
    const { subscription_id } = await w.subscribe({ target_url: receiver.url });
    await w.ingest();
    await until(() => receiver.received.length === 1, 'the first attempt');
    await w.deliverer.idle();
    // Act: four days of retries leave it active; the one on the fifth day disables it
    for (let day = 1; day <= 4; day += 1) {
      await w.advance(DAY);
      await until(() => receiver.received.length === day + 1, `the retry of day ${day}`);
      await w.deliverer.idle();
    }
    const afterFourDays = await w.getSubscription(subscription_id);
    await w.advance(DAY);
    await until(() => receiver.received.length === 6, 'the retry of day 5');
    await w.deliverer.idle();
    // Assess
    expect(afterFourDays).toMatchObject({ status: 'active' });
    expect(await w.getSubscription(subscription_id)).toMatchObject({
      status: 'disabled',
      disabled_reason: 'failing',
    });
    // The attempt that disabled it was the delivery's last: failed, with no next attempt.
    expect((await w.log(subscription_id))[0]).toMatchObject({
      attempt: 6,
      outcome: 'failed',
      next_attempt_at: null,
    });
    await w.advance(DAY);
    expect(receiver.received).toHaveLength(6);
  });

  it('does not follow a redirect: the 3xx is logged as a failed attempt', async () => {
    // Prepare
    w = await webhookApp();
    const elsewhere = await w.receiver();
    const receiver = await w.receiver();
    receiver.respond = () => ({ status: 307, headers: { location: elsewhere.url } });
    const { subscription_id } = await w.subscribe({ target_url: receiver.url });
    // Act
    await w.ingest();
    await until(() => receiver.received.length === 1, 'the attempt');
    await w.deliverer.idle();
    // Assess
    const [entry] = await w.log(subscription_id);
    expect(entry).toMatchObject({ status_code: 307, outcome: 'retrying' });
    expect(entry?.error).toContain('redirects are not followed');
    expect(elsewhere.received).toHaveLength(0);
  });

  it('counts an attempt without an answer within the timeout as failed', async () => {
    // Prepare
    w = await webhookApp({ timeoutMs: 200 });
    const receiver = await w.receiver();
    receiver.respond = () => ({ status: 200, delayMs: 2_000 });
    const { subscription_id } = await w.subscribe({ target_url: receiver.url });
    // Act
    await w.ingest();
    await until(() => receiver.received.length === 1, 'the attempt');
    await w.deliverer.idle();
    // Assess
    const [entry] = await w.log(subscription_id);
    expect(entry).toMatchObject({
      status_code: null,
      outcome: 'retrying',
      error: 'No answer within 0.2 seconds.',
    });
    expect(entry?.duration_ms).toBeGreaterThanOrEqual(150);
  });

  it('keeps a slow target to its concurrency bound while a fast one gets all its events', async () => {
    // Prepare
    w = await webhookApp({ concurrencyPerTarget: 2 });
    const slow = await w.receiver();
    slow.respond = () => ({ status: 200, delayMs: 300 });
    const fast = await w.receiver();
    await w.subscribe({ target_url: slow.url });
    await w.subscribe({ target_url: fast.url });
    // Act
    for (let i = 0; i < 10; i += 1) await w.ingest({ payload: { i } });
    await until(() => fast.received.length === 10, 'the fast target had every event');
    const slowWhenFastDone = slow.received.length;
    await until(() => slow.received.length === 10, 'the slow target had every event', 10_000);
    // Assess
    expect(slowWhenFastDone).toBeLessThan(10);
    expect(slow.maxInFlight).toBe(2);
  });

  it('sends nothing to a deleted subscription', async () => {
    // Prepare
    w = await webhookApp();
    const receiver = await w.receiver();
    const { subscription_id } = await w.subscribe({ target_url: receiver.url });
    await checked(
      request(w.t.app).delete(`/v1/subscriptions/${subscription_id}`).set('X-API-Key', DEV_KEY),
      204,
    );
    // Act
    await w.ingest();
    await w.advance(SECOND);
    // Assess
    expect(receiver.received).toHaveLength(0);
    expect(await w.t.webhooks.nextDueAt()).toBeUndefined();
  });

  it('pushes independently of the inbox: acking does not stop a webhook, and a webhook does not ack', async () => {
    // Prepare
    w = await webhookApp();
    const receiver = await w.receiver();
    receiver.respond = () => ({ status: receiver.received.length === 1 ? 500 : 200 });
    await w.subscribe({ target_url: receiver.url });
    const eventId = await w.ingest();
    await until(() => receiver.received.length === 1, 'the first attempt');
    await w.deliverer.idle();
    // Act
    await checked(request(w.t.app).post(`/v1/events/${eventId}/ack`).set('X-API-Key', DEV_KEY), 200);
    await w.advance(5 * SECOND);
    await until(() => receiver.received.length === 2, 'the retry');
    // Assess
    expect(JSON.parse(receiver.received[1]?.body ?? '{}')).toMatchObject({
      event_id: eventId,
      status: 'acknowledged',
    });
    const other = await w.ingest();
    await until(() => receiver.received.length === 3, 'the next event');
    const shown = await request(w.t.app).get(`/v1/events/${other}`).set('X-API-Key', DEV_KEY);
    expect(shown.body.status).toBe('pending');
  });
});
