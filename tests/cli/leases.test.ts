import { EXTEND_EVERY_MS, HeldLeases, VISIBILITY_SECONDS } from '../../cli/src/leases';
import { createOutput } from '../../cli/src/output';
import type { LeasedEvent, TriggersClient } from '../../sdk/src/index';

// What tail and listen hold: extended on a timer while held, nacked at exit. The timer is the
// CLI's own (real time, not the server's), so Jest's fake timers stand in for it here; the
// binary's tests (triggers.test.ts) show the give-back against the real server.

function leased(id: string): LeasedEvent {
  return {
    event_id: id,
    created_at: '2026-01-01T00:00:00.000Z',
    source: 'shop',
    event_type: 'order.created',
    payload: {},
    status: 'pending',
    metadata: { priority: 'normal' },
    acknowledged_at: null,
    expires_at: '2026-01-08T00:00:00.000Z',
    delivery_count: 1,
    leased_until: '2026-01-01T00:01:00.000Z',
    lease: { lease_id: `lease-${id}`, leased_until: '2026-01-01T00:01:00.000Z' },
  };
}

describe('HeldLeases', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setup(extend: jest.Mock = jest.fn().mockResolvedValue({})) {
    const nack = jest.fn().mockResolvedValue({});
    const client = { events: { extend, nack } } as unknown as TriggersClient;
    const notes: string[] = [];
    const out = createOutput({
      json: false,
      stdout: { write: () => true },
      stderr: { write: (text: string) => notes.push(text) },
      env: {},
    });
    return { held: new HeldLeases(client, out), extend, nack, notes };
  }

  it('extends every held lease while it is held, and no released one', async () => {
    // Prepare
    const { held, extend } = setup();
    held.add(leased('a'));
    held.add(leased('b'));
    held.release(leased('b'));

    // Act
    await jest.advanceTimersByTimeAsync(EXTEND_EVERY_MS * 3);

    // Assess
    expect(extend).toHaveBeenCalledTimes(3);
    expect(extend).toHaveBeenCalledWith('a', { leaseId: 'lease-a', visibilityTimeout: VISIBILITY_SECONDS });
    expect(EXTEND_EVERY_MS).toBeLessThan((VISIBILITY_SECONDS * 1000) / 2);
    await held.giveBack();
  });

  it('stops holding a lease it can no longer extend, and says so', async () => {
    // Prepare
    const { held, extend, nack, notes } = setup(jest.fn().mockRejectedValue(new Error('lease_too_long')));
    held.add(leased('a'));

    // Act
    await jest.advanceTimersByTimeAsync(EXTEND_EVERY_MS * 2);
    await held.giveBack();

    // Assess
    expect(extend).toHaveBeenCalledTimes(1);
    expect(held.size).toBe(0);
    expect(nack).not.toHaveBeenCalled();
    expect(notes.join('')).toContain('lease of a not extended: lease_too_long');
  });

  it('gives back what it holds with no delay, and extends nothing after', async () => {
    // Prepare
    const { held, extend, nack } = setup();
    held.add(leased('a'));
    held.add(leased('b'));

    // Act
    await held.giveBack();
    await jest.advanceTimersByTimeAsync(EXTEND_EVERY_MS * 2);

    // Assess
    expect(nack.mock.calls).toEqual([
      ['a', { leaseId: 'lease-a', delay: 0 }],
      ['b', { leaseId: 'lease-b', delay: 0 }],
    ]);
    expect(extend).not.toHaveBeenCalled();
  });
});
