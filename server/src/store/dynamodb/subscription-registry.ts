import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { NewEvent } from '../event-store';
import { subscriptionMatches } from '../webhook-store';
import { type BatchTarget, batchGetByPk } from './batch';
import { registryPk, subscriptionPk } from './item-keys';
import { type RegistryItem, readRegistry, readSubscription } from './webhook-item';

/** The tenant's subscription registry (webhook-item.ts), read strongly consistent. */
export async function readTenantRegistry(target: BatchTarget, tenantId: string): Promise<RegistryItem> {
  const result = await target.client.send(
    new GetCommand({ TableName: target.tableName, Key: { pk: registryPk(tenantId) }, ConsistentRead: true }),
  );
  return readRegistry(result.Item);
}

/**
 * The active subscriptions the new event matches (subscriptionMatches), by id: from the
 * registry alone, but for subscriptions whose patterns were too large to copy there, whose
 * items are read too (strongly consistent; patterns never change once written).
 */
export async function matchingSubscriptionIds(target: BatchTarget, event: NewEvent): Promise<string[]> {
  const registry = await readTenantRegistry(target, event.tenantId);
  const active = registry.entries.filter((entry) => entry.active);
  const matched = active
    .filter((entry) => entry.patterns && subscriptionMatches(entry.patterns, event))
    .map((entry) => entry.subscriptionId);
  const large = active.filter((entry) => !entry.patterns);
  if (large.length > 0) {
    const items = await batchGetByPk(
      target,
      large.map((entry) => subscriptionPk(event.tenantId, entry.subscriptionId)),
    );
    for (const subscription of items.map(readSubscription)) {
      if (subscription.status === 'active' && subscriptionMatches(subscription, event)) {
        matched.push(subscription.subscriptionId);
      }
    }
  }
  return matched;
}
