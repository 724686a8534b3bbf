import { until } from '../helpers/until';
import { type ReceivedWebhook, startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';
import {
  App,
  type AppTester,
  appTester,
  DEV_KEY,
  firstOf,
  rejectionOf,
  startApi,
  uniqueSource,
  type WireEvent,
} from './zapier-app';

/** The webhooks the receiver got for events of `source` (each test has its own source). */
function pushedFor(receiver: WebhookReceiver, source: string): ReceivedWebhook[] {
  return receiver.received.filter(
    (webhook) => (JSON.parse(webhook.body) as { source?: string }).source === source,
  );
}

/**
 * bundle.rawRequest as Zapier builds it for a hook's perform: headers other than
 * Content-Type and Content-Length get an `Http-` prefix, in Camel-Case.
 */
function zapierRawRequest(request: ReceivedWebhook): {
  method: string;
  querystring: string;
  headers: Record<string, string>;
  content: string;
} {
  const camel = (name: string) =>
    name
      .split('-')
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
      .join('-');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    const plain = name === 'content-type' || name === 'content-length';
    headers[plain ? camel(name) : `Http-${camel(name)}`] = String(value);
  }
  return { method: 'POST', querystring: '', headers, content: request.body };
}

/**
 * The REST hook trigger new_event_instant run by zapier-platform-core's createAppTester
 * against the real server process, whose deliverer pushes webhooks to a real local receiver:
 * subscribe, push, perform, unsubscribe.
 */
describe('The Zapier integration, trigger new_event_instant (REST hook)', () => {
  let api: Awaited<ReturnType<typeof startApi>>;
  let receiver: WebhookReceiver;
  let run: AppTester;
  let authData: { api_key: string; base_url: string };

  beforeAll(async () => {
    receiver = await startReceiver();
    api = await startApi({ TRIGGERS_WEBHOOK_RETRY_SCHEDULE: '1,1,1' });
    run = appTester();
    authData = { api_key: DEV_KEY, base_url: api.server.baseUrl };
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
    await receiver?.close();
  });

  it('subscribes, gets the pushed event, runs perform on it, and unsubscribes', async () => {
    // Prepare
    const source = uniqueSource('hook');
    const targetUrl = `${receiver.url}/standard/${source}`;
    const subscribe = App.triggers.new_event_instant.operation.performSubscribe;
    const unsubscribe = App.triggers.new_event_instant.operation.performUnsubscribe;

    // Act: the Zap is turned on.
    const subscribeData = (await run(subscribe, {
      authData,
      targetUrl,
      inputData: { event_types: ['order.*'], sources: [source] },
    })) as {
      subscription_id: string;
      secret: string;
      target_url: string;
      event_types: string[];
      sources: string[];
    };

    // Assess: the subscription exists for the Zap's URL with its filters.
    expect(subscribeData).toMatchObject({
      subscription_id: expect.any(String),
      secret: expect.stringMatching(/^whsec_/),
      target_url: targetUrl,
      event_types: ['order.*'],
      sources: [source],
      status: 'active',
    });
    const listed = await api.api('GET', `/v1/subscriptions/${subscribeData.subscription_id}`);
    expect(listed.status).toBe(200);

    // Act: events reach the API; only the matching one is pushed.
    await api.api('POST', '/v1/events', { source, event_type: 'invoice.sent', payload: { n: 0 } });
    const sent = await api.api('POST', '/v1/events', {
      source,
      event_type: 'order.created',
      payload: { n: 1 },
    });
    const { event_id } = (await sent.json()) as { event_id: string };
    const mine = () => pushedFor(receiver, source);
    await until(() => mine().length > 0, 'the webhook reaches the receiver', 20_000);
    const pushed = firstOf(mine());

    // Act: Zapier runs perform on the pushed request.
    const results = (await run(App.triggers.new_event_instant.operation.perform, {
      authData,
      inputData: { event_types: ['order.*'], sources: [source] },
      cleanedRequest: JSON.parse(pushed.body),
      rawRequest: zapierRawRequest(pushed),
      subscribeData,
    })) as WireEvent[];

    // Assess
    expect(pushed.headers['webhook-id']).toBe(event_id);
    expect(results).toEqual([
      expect.objectContaining({
        id: event_id,
        event_id,
        source,
        event_type: 'order.created',
        payload: { n: 1 },
      }),
    ]);
    expect(mine().every((request) => JSON.parse(request.body).event_type === 'order.created')).toBe(true);

    // Act: the Zap is turned off.
    await run(unsubscribe, { authData, subscribeData, inputData: {} });

    // Assess: the subscription is gone, and unsubscribing again is harmless.
    const gone = await api.api('GET', `/v1/subscriptions/${subscribeData.subscription_id}`);
    expect(gone.status).toBe(404);
    expect(await run(unsubscribe, { authData, subscribeData, inputData: {} })).toEqual({});
  });

  it('halts a pushed request whose signature does not match the subscription secret', async () => {
    // Prepare: a request as the API would sign it, then tampered with.
    const source = uniqueSource('forged');
    const subscribeData = (await run(App.triggers.new_event_instant.operation.performSubscribe, {
      authData,
      targetUrl: `${receiver.url}/forged/${source}`,
      inputData: { sources: [source] },
    })) as { subscription_id: string; secret: string };
    await api.api('POST', '/v1/events', { source, event_type: 'order.created', payload: { amount: 10 } });
    const mine = () => pushedFor(receiver, source);
    await until(() => mine().length > 0, 'the webhook reaches the receiver', 20_000);
    const pushed = firstOf(mine());
    const forged = pushed.body.replace('"amount":10', '"amount":10000');

    // Act
    const error = await rejectionOf(
      run(App.triggers.new_event_instant.operation.perform, {
        authData,
        cleanedRequest: JSON.parse(forged),
        rawRequest: { ...zapierRawRequest(pushed), content: forged },
        subscribeData,
      }),
    );

    // Assess
    expect(error).toMatchObject({
      name: 'HaltedError',
      message: expect.stringMatching(/signature does not match/),
    });
    await run(App.triggers.new_event_instant.operation.performUnsubscribe, { authData, subscribeData });
  });

  it('lists recent matching events as samples (performList), with ids', async () => {
    // Prepare
    const source = uniqueSource('samples');
    for (const eventType of ['order.created', 'invoice.sent', 'order.paid']) {
      await api.api('POST', '/v1/events', { source, event_type: eventType, payload: {} });
    }

    // Act
    const samples = (await run(App.triggers.new_event_instant.operation.performList, {
      authData,
      inputData: { event_types: ['order.*'], sources: [source] },
    })) as WireEvent[];

    // Assess: newest first, only order.* events, each with its id.
    expect(samples.map((event) => event.event_type)).toEqual(['order.paid', 'order.created']);
    for (const event of samples) expect(event.id).toBe(event.event_id);
  });

  it('turns a refused subscription into an error with the API message', async () => {
    // Act: a target that is no URL.
    const error = await rejectionOf(
      run(App.triggers.new_event_instant.operation.performSubscribe, {
        authData,
        targetUrl: 'not a url',
        inputData: {},
      }),
    );

    // Assess
    expect(JSON.parse((error as Error).message)).toMatchObject({ code: 'VALIDATION_ERROR', status: 400 });
  });
});
