import {
  App,
  type AppTester,
  appErrorOf,
  appTester,
  DEV_KEY,
  rejectionOf,
  startApi,
  uniqueSource,
  type WireEvent,
} from './zapier-app';

/**
 * The Zapier integration (zapier/, DESIGN §12) run by zapier-platform-core's own
 * createAppTester against the real server process: authentication, the polling trigger and
 * the send_event action. The REST hook trigger is in rest-hook.test.ts.
 */
describe('The Zapier integration', () => {
  let api: Awaited<ReturnType<typeof startApi>>;
  let run: AppTester;
  let authData: { api_key: string; base_url: string };

  beforeAll(async () => {
    api = await startApi();
    run = appTester();
    authData = { api_key: DEV_KEY, base_url: api.server.baseUrl };
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
  });

  /** Sends an event straight to the API (not through Zapier) and answers its id. */
  async function sendDirect(source: string, eventType: string, payload: Record<string, unknown> = {}) {
    const response = await api.api('POST', '/v1/events', { source, event_type: eventType, payload });
    expect(response.status).toBe(201);
    return ((await response.json()) as { event_id: string }).event_id;
  }

  describe('App', () => {
    it('declares its version and the platform version it was built on', () => {
      // Assess
      expect(App.version).toBe(require('../../zapier/package.json').version);
      expect(App.platformVersion).toBe('19.1.0');
    });

    it("runs with the platform's output checks on, as under `zapier-platform test`", () => {
      // Assess: the checks (an array, unique `id`s) run only when the core sees a test run.
      expect(process.env.NODE_ENV).toBe('test');
      expect((require('zapier-platform-core/src/constants') as { IS_TESTING: boolean }).IS_TESTING).toBe(
        true,
      );
    });
  });

  describe('authentication', () => {
    it('passes the test with a good key and labels the connection with its tenant', async () => {
      // Act
      const me = (await run(App.authentication.test, { authData })) as {
        tenant_id: string;
        scopes: string[];
      };
      const label = await run(App.authentication.connectionLabel, { authData, inputData: me });

      // Assess
      expect(me).toMatchObject({ tenant_id: 'local', key_id: expect.any(String) });
      expect(label).toBe('local');
    });

    it("fails the test with a bad key as an AuthenticationError carrying the API's message", async () => {
      // Act
      const error = await rejectionOf(
        run(App.authentication.test, { authData: { ...authData, api_key: 'not-a-real-key-0000' } }),
      );

      // Assess
      const appError = appErrorOf(error);
      expect(appError).toMatchObject({ name: 'AppError', code: 'AuthenticationError', status: 401 });
      expect(appError.message).toMatch(
        /^Invalid API key\. Reconnect with a valid API key\. \(request req_\w+\)$/,
      );
    });

    it('takes the base URL from TRIGGERS_API_URL when the connection leaves it empty', async () => {
      // Prepare
      const before = process.env.TRIGGERS_API_URL;
      process.env.TRIGGERS_API_URL = `${api.server.baseUrl}/`;
      try {
        // Act
        const me = await run(App.authentication.test, { authData: { api_key: DEV_KEY } });

        // Assess
        expect(me).toMatchObject({ tenant_id: 'local' });
      } finally {
        if (before === undefined) delete process.env.TRIGGERS_API_URL;
        else process.env.TRIGGERS_API_URL = before;
      }
    });

    it('says what to set when there is no base URL at all, or a malformed one', async () => {
      // Prepare
      const before = process.env.TRIGGERS_API_URL;
      delete process.env.TRIGGERS_API_URL;
      try {
        // Act
        const missing = appErrorOf(
          await rejectionOf(run(App.authentication.test, { authData: { api_key: DEV_KEY } })),
        );
        const malformed = appErrorOf(
          await rejectionOf(
            run(App.authentication.test, { authData: { api_key: DEV_KEY, base_url: 'ftp://x' } }),
          ),
        );

        // Assess
        expect(missing).toMatchObject({
          code: 'InvalidData',
          message: expect.stringMatching(/^No API base URL/),
        });
        expect(malformed).toMatchObject({
          code: 'InvalidData',
          message: expect.stringContaining('"ftp://x"'),
        });
      } finally {
        if (before !== undefined) process.env.TRIGGERS_API_URL = before;
      }
    });
  });

  describe('trigger new_event (polling)', () => {
    it('returns the events newest first, each with id = event_id', async () => {
      // Prepare
      const source = uniqueSource('poll');
      const first = await sendDirect(source, 'order.created', { n: 1 });
      const second = await sendDirect(source, 'order.paid', { n: 2 });
      const third = await sendDirect(source, 'order.created', { n: 3 });

      // Act
      const events = (await run(App.triggers.new_event.operation.perform, {
        authData,
        inputData: { source },
      })) as WireEvent[];

      // Assess
      expect(events.map((event) => event.event_id)).toEqual([third, second, first]);
      for (const event of events) expect(event.id).toBe(event.event_id);
      expect(events[0]).toMatchObject({
        source,
        event_type: 'order.created',
        payload: { n: 3 },
        status: 'pending',
      });
    });

    it('filters by event type and by source', async () => {
      // Prepare
      const source = uniqueSource('filter');
      const other = uniqueSource('other');
      const created = await sendDirect(source, 'order.created');
      await sendDirect(source, 'order.paid');
      const elsewhere = await sendDirect(other, 'order.created');

      // Act
      const byType = (await run(App.triggers.new_event.operation.perform, {
        authData,
        inputData: { source, event_type: 'order.created' },
      })) as WireEvent[];
      const bySource = (await run(App.triggers.new_event.operation.perform, {
        authData,
        inputData: { source: other },
      })) as WireEvent[];

      // Assess
      expect(byType.map((event) => event.id)).toEqual([created]);
      expect(bySource.map((event) => event.id)).toEqual([elsewhere]);
    });

    it('returns an empty list when nothing matches', async () => {
      // Act
      const events = await run(App.triggers.new_event.operation.perform, {
        authData,
        inputData: { source: uniqueSource('none') },
      });

      // Assess
      expect(events).toEqual([]);
    });
  });

  describe('action send_event', () => {
    it('creates the event (201) and answers it, visible through the API', async () => {
      // Prepare
      const source = uniqueSource('send');

      // Act
      const created = (await run(App.creates.send_event.operation.perform, {
        authData,
        inputData: {
          source,
          event_type: 'order.created',
          payload_json: '{"order_id": "ord_1001", "amount": 49.95, "lines": [1, 2]}',
          payload: { channel: 'zapier' },
          priority: 'high',
          correlation_id: 'corr-42',
        },
      })) as WireEvent & { replayed: boolean; expires_at: string };

      // Assess
      expect(created).toMatchObject({
        id: created.event_id,
        status: 'pending',
        source,
        event_type: 'order.created',
        payload: { order_id: 'ord_1001', amount: 49.95, lines: [1, 2], channel: 'zapier' },
        replayed: false,
      });
      expect(created).not.toHaveProperty('request_id');
      const stored = await api.api('GET', `/v1/events/${created.event_id}`);
      expect(stored.status).toBe(200);
      expect(await stored.json()).toMatchObject({
        event_id: created.event_id,
        source,
        event_type: 'order.created',
        payload: { order_id: 'ord_1001', amount: 49.95, lines: [1, 2], channel: 'zapier' },
        metadata: { priority: 'high', correlation_id: 'corr-42' },
      });
    });

    it('sends the idempotency key, so a second run replays the first event', async () => {
      // Prepare
      const inputData = {
        source: uniqueSource('idem'),
        event_type: 'order.created',
        payload: { order_id: 'ord_1002' },
        idempotency_key: `zap-run-${Date.now()}`,
      };

      // Act
      const first = (await run(App.creates.send_event.operation.perform, {
        authData,
        inputData,
      })) as WireEvent & {
        replayed: boolean;
      };
      const second = (await run(App.creates.send_event.operation.perform, {
        authData,
        inputData,
      })) as WireEvent & {
        replayed: boolean;
      };

      // Assess
      expect(second.event_id).toBe(first.event_id);
      expect([first.replayed, second.replayed]).toEqual([false, true]);
    });

    it("turns the API's validation error into an error with its message and failing fields", async () => {
      // Act
      const error = appErrorOf(
        await rejectionOf(
          run(App.creates.send_event.operation.perform, {
            authData,
            inputData: { source: '', event_type: '', payload: {} },
          }),
        ),
      );

      // Assess
      expect(error).toMatchObject({ name: 'AppError', code: 'VALIDATION_ERROR', status: 400 });
      expect(error.message).toMatch(
        /^source must not be empty \(and 1 more: see details\.errors\)\. \/body\/event_type must not be empty\. \(request req_\w+\)$/,
      );
    });

    it('refuses a JSON payload that is not an object, before calling the API', async () => {
      // Act
      const error = appErrorOf(
        await rejectionOf(
          run(App.creates.send_event.operation.perform, {
            authData,
            inputData: { source: 'billing', event_type: 'order.created', payload_json: '[1, 2]' },
          }),
        ),
      );

      // Assess
      expect(error).toMatchObject({
        code: 'InvalidData',
        message: expect.stringMatching(/must be a JSON object/),
      });
    });
  });
});
