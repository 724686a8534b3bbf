import { setImmediate as nextTurn } from 'node:timers/promises';
import { LongPoll } from '../../server/src/long-poll';
import { FakeClock } from '../helpers/fake-clock';

describe('LongPoll', () => {
  it('looks again at once when an ingest is announced while its first look is still reading', async () => {
    // Prepare: polling so rare that only the signal can bring the second look.
    const clock = new FakeClock();
    const longPoll = new LongPoll({ clock: clock.read, pollIntervalMs: 600_000, maxWaitingPerKey: 10 });
    let release: (value: string | undefined) => void = () => undefined;
    const looks: string[] = [];
    const attempt = () => {
      looks.push('look');
      if (looks.length === 1) return new Promise<string | undefined>((resolve) => (release = resolve));
      return Promise.resolve('the new event');
    };

    // Act: the first look has read nothing yet when the ingest lands and notifies.
    const waiting = longPoll.wait({ tenantId: 't', keyId: 'k', seconds: 20 }, attempt);
    await nextTurn();
    longPoll.notify('t');
    release(undefined);

    // Assess
    await expect(waiting).resolves.toBe('the new event');
    expect(looks).toHaveLength(2);
    expect(longPoll.waiting()).toBe(0);
  });

  it('frees nothing it did not take: a first look that finds an event holds no slot', async () => {
    const clock = new FakeClock();
    const longPoll = new LongPoll({ clock: clock.read, pollIntervalMs: 10, maxWaitingPerKey: 1 });
    await expect(longPoll.wait({ tenantId: 't', keyId: 'k', seconds: 20 }, async () => 'now')).resolves.toBe(
      'now',
    );
    expect(longPoll.waiting('k')).toBe(0);
  });
});
