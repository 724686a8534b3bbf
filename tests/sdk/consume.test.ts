import {
  AuthenticationError,
  type ConsumeErrorContext,
  type ConsumeHandler,
  type ConsumeOptions,
  consume,
  createTriggersClient,
  defaultNackDelay,
  type LeasedEvent,
} from '../../sdk/src/index';
import { rejectionOf } from '../helpers/rejection';
import { type Answer, apiError, event, json } from './scripted-fetch';

// ---------------------------------------------------------------------------------------------
// The consume loop's mechanics, request by request. The fetch injected here is a scripted
// stand-in for the lease endpoints (it hands out queued events, records every request, and
// injects network faults and error answers on demand); it checks the loop, not the server.
// consume-e2e.test.ts runs the same loop against the real server.
// ---------------------------------------------------------------------------------------------

type Operation = 'lease' | 'ack' | 'nack' | 'extend';

interface Call {
  operation: Operation;
  eventId: string | undefined;
  body: Record<string, unknown>;
}

/** A pending event already leased `deliveryCount` times. */
function pendingEvent(n: number, deliveryCount = 0) {
  return event(n, { delivery_count: deliveryCount });
}

/**
 * The scripted lease endpoints. `add` queues events; a lease takes up to `limit` of them
 * (each with a new lease id and one more delivery) or, when none is queued, waits for one to
 * be added, for its signal to abort, or for `wait` × 10 ms. `fail(operation, …answers)` makes
 * the next calls of that operation fail with these answers instead.
 */
function leaseApi() {
  const queue: ReturnType<typeof pendingEvent>[] = [];
  const calls: Call[] = [];
  const faults: Record<Operation, Answer[]> = { lease: [], ack: [], nack: [], extend: [] };
  let wakeLeases: (() => void)[] = [];
  let leases = 0;
  const listeners: ((call: Call) => void)[] = [];

  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const signal = init?.signal ?? request.signal;
    if (signal?.aborted) throw signal.reason;
    const path = new URL(request.url).pathname;
    const match = /^\/v1\/events\/([^/]+)\/(ack|nack|extend)$/.exec(path);
    const operation = (path === '/v1/inbox/lease' ? 'lease' : match?.[2]) as Operation | undefined;
    if (!operation) return apiError(404, 'NOT_FOUND');
    const text = await request.text();
    const call: Call = { operation, eventId: match?.[1], body: text ? JSON.parse(text) : {} };
    calls.push(call);
    for (const listener of listeners) listener(call);
    const fault = faults[operation].shift();
    if (fault === 'network-error') throw new TypeError('fetch failed');
    if (fault instanceof Response) return fault;
    if (typeof fault === 'function') return fault({} as never);
    const at = '2025-01-01T00:00:30.000Z';
    switch (operation) {
      case 'lease': {
        if (queue.length === 0) {
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, Number(call.body.wait ?? 0) * 10);
            wakeLeases.push(() => {
              clearTimeout(timer);
              resolve();
            });
            signal?.addEventListener('abort', () => {
              clearTimeout(timer);
              reject(signal.reason);
            });
          });
        }
        const taken = queue.splice(0, Number(call.body.limit ?? 10)).map((event) => {
          leases += 1;
          const leasedEvent: LeasedEvent = {
            ...event,
            delivery_count: event.delivery_count + 1,
            leased_until: at,
            lease: { lease_id: `lease-${leases}`, leased_until: at },
          };
          return leasedEvent;
        });
        return json(200, { events: taken, request_id: 'req-lease' });
      }
      case 'ack':
        return json(200, {
          event_id: call.eventId,
          status: 'acknowledged',
          acknowledged_at: at,
          request_id: 'r',
        });
      case 'nack':
        return json(200, {
          event_id: call.eventId,
          status: 'pending',
          delivery_count: 1,
          visible_at: at,
          request_id: 'r',
        });
      case 'extend':
        return json(200, { event_id: call.eventId, leased_until: at, request_id: 'r' });
    }
  };

  return {
    fetch: fetch as typeof globalThis.fetch,
    calls,
    add(...events: ReturnType<typeof pendingEvent>[]) {
      queue.push(...events);
      const waiting = wakeLeases;
      wakeLeases = [];
      for (const wake of waiting) wake();
    },
    fail(operation: Operation, ...answers: Answer[]) {
      faults[operation].push(...answers);
    },
    of(operation: Operation): Call[] {
      return calls.filter((call) => call.operation === operation);
    },
    /** Resolves once `count` calls of `operation` (in all) have been made. */
    reached(operation: Operation, count: number): Promise<void> {
      return new Promise((resolve) => {
        const check = () => {
          if (calls.filter((call) => call.operation === operation).length < count) return false;
          resolve();
          return true;
        };
        if (!check()) listeners.push(() => void check());
      });
    },
  };
}

/** A promise with its resolve and reject in hand. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function run(
  api: ReturnType<typeof leaseApi>,
  handler: ConsumeHandler,
  options: Partial<ConsumeOptions> = {},
) {
  const stop = new AbortController();
  const errors: { error: unknown; context: ConsumeErrorContext }[] = [];
  const client = createTriggersClient({
    baseUrl: 'http://api.test',
    apiKey: 'tk_unit_secret',
    fetch: api.fetch,
    maxRetries: 2,
  });
  const done = consume(handler, {
    client,
    signal: stop.signal,
    wait: 1,
    onError: (error, context) => errors.push({ error, context }),
    ...options,
  });
  return { stop, done, errors };
}

beforeEach(() => {
  // Retries and lease backoffs wait random × window: the SDK's at once, the loop's half the window.
  jest.spyOn(Math, 'random').mockReturnValue(0);
});
afterEach(() => {
  jest.restoreAllMocks();
});

describe('consume', () => {
  it('hands each event to the handler once and acks it with its lease id', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1), pendingEvent(2), pendingEvent(3));
    const handled: string[] = [];

    // Act
    const consumer = run(api, async (event) => {
      handled.push(event.event_id);
    });
    await api.reached('ack', 3);
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(handled.sort()).toEqual([1, 2, 3].map((n) => pendingEvent(n).event_id));
    expect(api.of('ack').map((call) => [call.eventId, call.body])).toEqual(
      [1, 2, 3].map((n) => [pendingEvent(n).event_id, { lease_id: `lease-${n}` }]),
    );
    expect(api.of('nack')).toEqual([]);
    expect(consumer.errors).toEqual([]);
  });

  it('long-polls with the visibility timeout, the wait and the filter it was given', async () => {
    // Prepare
    const api = leaseApi();

    // Act
    const consumer = run(api, () => undefined, {
      concurrency: 4,
      visibilityTimeout: 90,
      wait: 2,
      filter: { source: 'shop', priority: 'high' },
    });
    await api.reached('lease', 1);
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(api.of('lease')[0]?.body).toEqual({
      source: 'shop',
      priority: 'high',
      limit: 4,
      visibility_timeout: 90,
      wait: 2,
    });
  });

  it('runs at most `concurrency` handlers at once and leases only as many events as it has free slots', async () => {
    // Prepare
    const api = leaseApi();
    api.add(...Array.from({ length: 10 }, (_, i) => pendingEvent(i + 1)));
    const gates = new Map<string, ReturnType<typeof deferred<void>>>();
    let running = 0;
    let mostAtOnce = 0;
    const started: string[] = [];

    // Act: handlers wait until the test lets them go, one at a time
    const consumer = run(
      api,
      async (event) => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        started.push(event.event_id);
        const gate = deferred();
        gates.set(event.event_id, gate);
        await gate.promise;
        running -= 1;
      },
      { concurrency: 3 },
    );
    for (let acked = 1; acked <= 10; acked += 1) {
      await until(() => gates.size >= Math.min(acked + 2, 10) || started.length === 10);
      gates.get(started[acked - 1] as string)?.resolve();
      await api.reached('ack', acked);
    }
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(mostAtOnce).toBe(3);
    expect(api.of('ack')).toHaveLength(10);
    const limits = api.of('lease').map((call) => call.body.limit);
    expect(limits[0]).toBe(3);
    expect(limits.every((limit) => typeof limit === 'number' && limit >= 1 && limit <= 3)).toBe(true);
  });

  it('nacks an event whose handler throws, with a delay that grows with its deliveries', async () => {
    // Prepare
    const api = leaseApi();
    api.add(
      pendingEvent(1, 0),
      pendingEvent(2, 1),
      pendingEvent(3, 3),
      pendingEvent(4, 9),
      pendingEvent(5, 40),
    );
    const failure = new Error('handler failed');

    // Act
    const consumer = run(api, () => {
      throw failure;
    });
    await api.reached('nack', 5);
    consumer.stop.abort();
    await consumer.done;

    // Assess: delivery 1, 2, 4, 10, 41 → 1 s, 2 s, 8 s, 300 s (capped), 300 s
    const delays = Object.fromEntries(api.of('nack').map((call) => [call.eventId, call.body]));
    expect(delays).toEqual({
      [pendingEvent(1).event_id]: { lease_id: 'lease-1', delay: 1 },
      [pendingEvent(2).event_id]: { lease_id: 'lease-2', delay: 2 },
      [pendingEvent(3).event_id]: { lease_id: 'lease-3', delay: 8 },
      [pendingEvent(4).event_id]: { lease_id: 'lease-4', delay: 300 },
      [pendingEvent(5).event_id]: { lease_id: 'lease-5', delay: 300 },
    });
    expect(api.of('ack')).toEqual([]);
    expect(consumer.errors.map(({ error, context }) => [error, context.operation])).toEqual(
      Array(5).fill([failure, 'handler']),
    );
  });

  it('takes its nack delay from nackDelay, rounded and kept within 0 to 43,200 seconds', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1), pendingEvent(2), pendingEvent(3));
    const delays: Record<string, number> = {
      [pendingEvent(1).event_id]: 2.6,
      [pendingEvent(2).event_id]: -5,
      [pendingEvent(3).event_id]: 1e9,
    };

    // Act
    const consumer = run(
      api,
      async () => {
        throw new Error('no');
      },
      { nackDelay: (event) => delays[event.event_id] ?? 0 },
    );
    await api.reached('nack', 3);
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(api.of('nack').map((call) => [call.eventId, call.body.delay])).toEqual([
      [pendingEvent(1).event_id, 3],
      [pendingEvent(2).event_id, 0],
      [pendingEvent(3).event_id, 43_200],
    ]);
  });

  it('extends the lease while the handler runs, and stops extending once it is done', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1));
    const release = deferred();

    // Act: the handler runs until three extensions went out
    const consumer = run(api, () => release.promise, { visibilityTimeout: 5, extendIntervalMs: 10 });
    await api.reached('extend', 3);
    release.resolve();
    await api.reached('ack', 1);
    consumer.stop.abort();
    await consumer.done;

    // Assess: every extension carries the lease and the timeout, and none comes after the ack
    const calls = api.calls.filter((call) => call.operation !== 'lease');
    const extensions = calls.filter((call) => call.operation === 'extend');
    expect(extensions.length).toBeGreaterThanOrEqual(3);
    for (const call of extensions) {
      expect(call).toEqual({
        operation: 'extend',
        eventId: pendingEvent(1).event_id,
        body: { lease_id: 'lease-1', visibility_timeout: 5 },
      });
    }
    expect(calls.at(-1)?.operation).toBe('ack');
  });

  it('extends at half the visibility timeout by default', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1));
    const release = deferred();
    const timeouts: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    jest.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, ms?: number) => {
      timeouts.push(ms ?? 0);
      return realSetTimeout(callback, ms === 15_000 ? 5 : ms);
    }) as typeof setTimeout);

    // Act
    const consumer = run(api, () => release.promise, { visibilityTimeout: 30 });
    await api.reached('extend', 1);
    release.resolve();
    await api.reached('ack', 1);
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(timeouts).toContain(15_000);
    expect(api.of('extend')[0]?.body).toEqual({ lease_id: 'lease-1', visibility_timeout: 30 });
  });

  it('stops extending a lease it lost to another worker, tells onError, and still reports the ack', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1));
    const lost = apiError(409, 'CONFLICT', {
      details: { reason: 'lease_mismatch', current_status: 'pending' },
    });
    api.fail('extend', lost);
    api.fail('ack', apiError(409, 'CONFLICT', { details: { reason: 'lease_mismatch' } }));
    const release = deferred();

    // Act: the handler outlives the failed extension by several intervals
    const consumer = run(api, () => release.promise, { visibilityTimeout: 5, extendIntervalMs: 5 });
    await api.reached('extend', 1);
    await until(() => consumer.errors.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    release.resolve();
    await api.reached('ack', 1);
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(api.of('extend')).toHaveLength(1);
    expect(
      consumer.errors.map(({ error, context }) => [
        context.operation,
        (error as { details: object }).details,
      ]),
    ).toEqual([
      ['extend', { reason: 'lease_mismatch', current_status: 'pending' }],
      ['ack', { reason: 'lease_mismatch' }],
    ]);
    expect(consumer.errors[0]?.context.event?.event_id).toBe(pendingEvent(1).event_id);
  });

  it('retries an ack whose first answer was lost, so the event is acked and not nacked', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1));
    api.fail('ack', 'network-error');

    // Act
    const consumer = run(api, () => undefined);
    await api.reached('ack', 2);
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(api.of('ack').map((call) => call.body)).toEqual([
      { lease_id: 'lease-1' },
      { lease_id: 'lease-1' },
    ]);
    expect(api.of('nack')).toEqual([]);
    expect(consumer.errors).toEqual([]);
  });

  it('backs off and leases again after network errors and 5xx, telling onError each time', async () => {
    // Prepare
    const api = leaseApi();
    api.fail('lease', 'network-error', apiError(503, 'UNAVAILABLE'));
    api.add(pendingEvent(1));

    // Act
    const consumer = run(api, () => undefined);
    await api.reached('ack', 1);
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(api.of('lease').length).toBeGreaterThanOrEqual(3);
    expect(consumer.errors.map(({ error, context }) => [context.operation, (error as Error).name])).toEqual([
      ['lease', 'TriggersConnectionError'],
      ['lease', 'ServerError'],
    ]);
  });

  it('stops and rejects when the server refuses the key', async () => {
    // Prepare
    const api = leaseApi();
    api.fail('lease', apiError(401, 'UNAUTHORIZED'));

    // Act
    const consumer = run(api, () => undefined);
    const error = await rejectionOf(consumer.done);

    // Assess
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(api.of('lease')).toHaveLength(1);
  });

  it('on abort, cuts the waiting lease short, lets the running handler finish, acks it and resolves', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1));
    const started = deferred();
    let sawAbort = false;

    // Act
    const consumer = run(
      api,
      async (_event, { signal }) => {
        started.resolve();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        sawAbort = signal.aborted;
      },
      { concurrency: 2, wait: 20 },
    );
    await started.promise;
    await api.reached('lease', 2);
    consumer.stop.abort();
    await consumer.done;

    // Assess: the second lease was waiting (20 s) when the stop came; nothing was leased after
    expect(sawAbort).toBe(true);
    expect(api.of('lease')).toHaveLength(2);
    expect(api.of('ack').map((call) => call.body)).toEqual([{ lease_id: 'lease-1' }]);
    expect(api.of('nack')).toEqual([]);
  });

  it('nacks at once, without a delay, an event whose handler throws because of the abort', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1, 4));
    const started = deferred();

    // Act
    const consumer = run(api, async (_event, { signal }) => {
      started.resolve();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      throw new Error('cut short');
    });
    await started.promise;
    consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(api.of('nack').map((call) => call.body)).toEqual([{ lease_id: 'lease-1', delay: 0 }]);
  });

  it('nacks what it still holds once shutdownTimeoutMs has passed, resolves, and never acks it later', async () => {
    // Prepare
    const api = leaseApi();
    api.add(pendingEvent(1), pendingEvent(2));
    const slow = deferred();
    const started: string[] = [];

    // Act: event 1 ends quickly, event 2's handler ignores the abort
    const consumer = run(
      api,
      async (event) => {
        started.push(event.event_id);
        if (event.payload.n === 2) await slow.promise;
      },
      { shutdownTimeoutMs: 20, visibilityTimeout: 5, extendIntervalMs: 1_000 },
    );
    await api.reached('ack', 1);
    await until(() => started.length === 2);
    consumer.stop.abort();
    await consumer.done;
    const callsAtResolve = api.calls.length;
    slow.resolve();
    await new Promise((resolve) => setTimeout(resolve, 10));

    // Assess
    expect(api.of('ack').map((call) => call.eventId)).toEqual([pendingEvent(1).event_id]);
    expect(api.of('nack').map((call) => [call.eventId, call.body])).toEqual([
      [pendingEvent(2).event_id, { lease_id: 'lease-2', delay: 0 }],
    ]);
    expect(api.calls).toHaveLength(callsAtResolve);
  });

  it('hands back at once, unhandled, events that a lease returned as the stop came', async () => {
    // Prepare: the stop comes while the server answers the lease
    const api = leaseApi();
    const stopping: { abort?: () => void } = {};
    api.fail('lease', () => {
      stopping.abort?.();
      const event = {
        ...pendingEvent(1, 1),
        leased_until: 'x',
        lease: { lease_id: 'late', leased_until: 'x' },
      };
      return json(200, { events: [event], request_id: 'r' });
    });
    const handled: string[] = [];

    // Act
    const consumer = run(api, (event) => {
      handled.push(event.event_id);
    });
    stopping.abort = () => consumer.stop.abort();
    await consumer.done;

    // Assess
    expect(handled).toEqual([]);
    expect(api.of('lease')).toHaveLength(1);
    expect(api.of('nack').map((call) => call.body)).toEqual([{ lease_id: 'late', delay: 0 }]);
  });

  it('resolves at once when its signal is aborted before it starts', async () => {
    // Prepare
    const api = leaseApi();
    const client = createTriggersClient({ baseUrl: 'http://api.test', apiKey: 'k', fetch: api.fetch });

    // Act
    await consume(() => undefined, { client, signal: AbortSignal.abort() });

    // Assess
    expect(api.calls).toEqual([]);
  });

  it.each([
    [{ concurrency: 0 }, /concurrency/],
    [{ concurrency: 1.5 }, /concurrency/],
    [{ visibilityTimeout: 0 }, /visibilityTimeout/],
    [{ visibilityTimeout: 43_201 }, /visibilityTimeout/],
    [{ wait: 0 }, /wait/],
    [{ wait: 21 }, /wait/],
    [{ visibilityTimeout: 2, extendIntervalMs: 2_000 }, /extendIntervalMs/],
    [{ shutdownTimeoutMs: -1 }, /shutdownTimeoutMs/],
  ])('rejects the options %j with a RangeError before any request', async (options, message) => {
    // Prepare
    const api = leaseApi();
    const client = createTriggersClient({ baseUrl: 'http://api.test', apiKey: 'k', fetch: api.fetch });

    // Act
    const error = await rejectionOf(consume(() => undefined, { client, ...options }));

    // Assess
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(message);
    expect(api.calls).toEqual([]);
  });
});

describe('defaultNackDelay', () => {
  it('doubles from 1 second with each delivery and stops at 5 minutes', () => {
    // Act
    const delays = [1, 2, 3, 4, 5, 9, 10, 50].map((deliveryCount) =>
      defaultNackDelay({ ...pendingEvent(1, deliveryCount), lease: { lease_id: 'l', leased_until: 'x' } }),
    );

    // Assess
    expect(delays).toEqual([1, 2, 4, 8, 16, 256, 300, 300]);
  });
});

/** Resolves once `condition` holds (checked every few ms), or fails the test after 5 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the condition never held');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
