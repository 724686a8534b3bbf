import { v7 as uuidv7 } from 'uuid';
import type { CreateRequest, EventStore, NewEvent, StoredEvent } from '../../server/src/store/event-store';
import type { KeyStore } from '../../server/src/store/key-store';
import type { FakeClock } from '../helpers/fake-clock';

export interface StoreUnderTest {
  store: EventStore;
  keys: KeyStore;
  clock: FakeClock;
  cleanup(): Promise<void>;
}

export const DAY = 86_400_000;

/** Events to write into the store under test, stamped by its clock, tenant `tenant-a` by default. */
export function storeFixtures(current: () => Pick<StoreUnderTest, 'store' | 'clock'>) {
  let sequence = 0;
  const newEvent = (overrides: Partial<NewEvent> = {}): NewEvent => {
    sequence += 1;
    const now = current().clock.now;
    return {
      tenantId: 'tenant-a',
      eventId: uuidv7({ msecs: now }),
      createdAt: now,
      source: 'billing',
      eventType: 'order.created',
      payloadJson: JSON.stringify({ n: sequence }),
      priority: 'normal',
      metadata: { priority: 'normal' },
      expiresAt: now + 7 * DAY,
      ...overrides,
    };
  };
  const created = async (request: CreateRequest): Promise<StoredEvent> => {
    const outcome = await current().store.create(request);
    if (outcome.kind !== 'created') throw new Error(`expected created, got ${outcome.kind}`);
    return outcome.event;
  };
  return { newEvent, created };
}
