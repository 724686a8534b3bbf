import type { Subscription, SubscriptionInput } from '@triggers-api/sdk';
import type { Context } from '../context.js';
import { printTable } from '../output.js';

export interface CreateOptions {
  url: string;
  type?: string[];
  source?: string[];
  description?: string;
}

export async function createSubscription(ctx: Context, options: CreateOptions): Promise<void> {
  const input: SubscriptionInput = { target_url: options.url };
  if (options.type?.length) input.event_types = options.type;
  if (options.source?.length) input.sources = options.source;
  if (options.description) input.description = options.description;
  const created = await ctx.client().subscriptions.create(input);
  const { out } = ctx;
  if (out.json) {
    out.value(created);
    return;
  }
  out.line(`Created ${out.paint.bold(created.subscription_id)} -> ${created.target_url}`);
  out.line(`Event types: ${describeList(created.event_types)}   Sources: ${describeList(created.sources)}`);
  out.line(`Signing secret (shown only now): ${out.paint.bold(created.secret)}`);
}

export async function listSubscriptions(ctx: Context): Promise<void> {
  const subscriptions: Subscription[] = [];
  for await (const subscription of ctx.client().subscriptions.list({ limit: 100 }))
    subscriptions.push(subscription);
  const { out } = ctx;
  if (out.json) {
    out.value(subscriptions);
    return;
  }
  printTable(
    out,
    ['SUBSCRIPTION ID', 'STATUS', 'CREATED', 'EVENT TYPES', 'SOURCES', 'TARGET URL'],
    subscriptions.map((subscription) => [
      subscription.subscription_id,
      subscription.status === 'active'
        ? out.paint.green(subscription.status)
        : out.paint.red(`${subscription.status} (${subscription.disabled_reason ?? '?'})`),
      subscription.created_at,
      describeList(subscription.event_types),
      describeList(subscription.sources),
      subscription.target_url,
    ]),
    'No subscriptions.',
  );
}

export async function deleteSubscription(ctx: Context, id: string): Promise<void> {
  await ctx.client().subscriptions.delete(id);
  const { out } = ctx;
  if (out.json) {
    out.value({ subscription_id: id, deleted: true }, { compact: true });
    return;
  }
  out.line(`Deleted ${out.paint.bold(id)}`);
}

/** None given means every one, as the API treats it. */
function describeList(items: string[] | undefined): string {
  return items && items.length > 0 ? items.join(',') : '*';
}
