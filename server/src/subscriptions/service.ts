import { v7 as uuidv7 } from 'uuid';
import type { Principal } from '../auth/principal';
import type { Clock } from '../clock';
import { NotFoundError, TargetNotAllowedError, TooManySubscriptionsError, ValidationError } from '../errors';
import type { components } from '../generated/triggers';
import { pageLimit } from '../inbox/service';
import type { CursorCodec, CursorScope } from '../store/cursor';
import type { AttemptPage, DeliveryAttempt, StoredSubscription, WebhookStore } from '../store/webhook-store';
import { newWebhookSecret } from '../webhooks/signature';
import { type TargetGuard, TargetRefusedError } from '../webhooks/target-guard';

type SubscriptionInput = components['schemas']['SubscriptionInput'];

export interface Page<T> {
  items: T[];
  limit: number;
  nextCursor: string | null;
  hasMore: boolean;
}

/** DESIGN §11: subscriptions of the caller's tenant; another tenant's is not found. */
export class SubscriptionsService {
  constructor(
    private readonly options: {
      webhooks: WebhookStore;
      clock: Clock;
      guard: TargetGuard;
      cursors: CursorCodec;
    },
  ) {}

  async create(principal: Principal, input: SubscriptionInput): Promise<StoredSubscription> {
    const eventTypes = cleanList(input.event_types, '/body/event_types', checkPattern);
    const sources = cleanList(input.sources, '/body/sources');
    try {
      await this.options.guard.check(input.target_url);
    } catch (error) {
      if (error instanceof TargetRefusedError) throw new TargetNotAllowedError(error.message);
      throw error;
    }
    const subscription: StoredSubscription = {
      tenantId: principal.tenantId,
      subscriptionId: `sub_${uuidv7().replaceAll('-', '')}`,
      targetUrl: input.target_url,
      eventTypes,
      sources,
      description: input.description ?? null,
      status: 'active',
      disabledReason: null,
      secret: newWebhookSecret(),
      createdAt: this.options.clock(),
      failingSince: null,
    };
    const outcome = await this.options.webhooks.createSubscription(subscription);
    if (outcome.kind === 'limit_reached') throw new TooManySubscriptionsError(outcome.limit);
    return subscription;
  }

  async get(principal: Principal, subscriptionId: string): Promise<StoredSubscription> {
    const subscription = await this.options.webhooks.getSubscription(principal.tenantId, subscriptionId);
    if (!subscription) throw new NotFoundError('Subscription not found.');
    return subscription;
  }

  async list(
    principal: Principal,
    query: { limit?: number; cursor?: string },
  ): Promise<Page<StoredSubscription>> {
    const limit = pageLimit(query.limit);
    const scope: CursorScope = { tenantId: principal.tenantId, filters: 'subscriptions' };
    const after = this.after(query.cursor, scope);
    const page = await this.options.webhooks.listSubscriptions(principal.tenantId, limit, after);
    const last = page.subscriptions.at(-1);
    return {
      items: page.subscriptions,
      limit,
      hasMore: page.hasMore,
      nextCursor:
        page.hasMore && last
          ? this.options.cursors.encode(scope, { createdAt: last.createdAt, eventId: last.subscriptionId })
          : null,
    };
  }

  async delete(principal: Principal, subscriptionId: string): Promise<void> {
    await this.options.webhooks.deleteSubscription(principal.tenantId, subscriptionId);
  }

  async deliveries(
    principal: Principal,
    subscriptionId: string,
    query: { limit?: number; cursor?: string },
  ): Promise<Page<DeliveryAttempt>> {
    const limit = pageLimit(query.limit);
    await this.get(principal, subscriptionId);
    const scope: CursorScope = { tenantId: principal.tenantId, filters: `deliveries ${subscriptionId}` };
    const after = this.after(query.cursor, scope);
    const page: AttemptPage = await this.options.webhooks.listAttempts(
      principal.tenantId,
      subscriptionId,
      limit,
      after,
    );
    const last = page.attempts.at(-1);
    return {
      items: page.attempts,
      limit,
      hasMore: page.hasMore,
      nextCursor:
        page.hasMore && last
          ? this.options.cursors.encode(scope, { createdAt: last.position.at, eventId: last.position.id })
          : null,
    };
  }

  private after(cursor: string | undefined, scope: CursorScope) {
    if (cursor === undefined) return undefined;
    const position = this.options.cursors.decode(cursor, scope);
    return { at: position.createdAt, id: position.eventId };
  }
}

/** Trimmed, without blanks or repeats (the contract's uniqueItems compares untrimmed). */
function cleanList(
  values: string[] | undefined,
  path: string,
  check?: (value: string, path: string) => void,
) {
  const cleaned = [...new Set((values ?? []).map((value) => value.trim()))];
  for (const [index, value] of cleaned.entries()) check?.(value, `${path}/${index}`);
  return cleaned;
}

/** `*` only as a trailing `.*` after a non-empty prefix: `order.*`, never `*` or `order.*.paid`. */
function checkPattern(pattern: string, path: string): void {
  const star = pattern.indexOf('*');
  if (star === -1) return;
  if (star === pattern.length - 1 && pattern.endsWith('.*') && pattern.length > 2) return;
  const message = `"${pattern}" is not an event type pattern: use an exact type (order.created) or a prefix ending in ".*" (order.*); "*" is allowed only there. Leave event_types out to get every type.`;
  throw new ValidationError(message, [{ path, message }]);
}
