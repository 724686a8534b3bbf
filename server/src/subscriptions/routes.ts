import { Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import { toIso } from '../clock';
import type { components } from '../generated/triggers';
import { requestIdOf } from '../http/request-id';
import type { DeliveryAttempt, StoredSubscription } from '../store/webhook-store';
import type { Page, SubscriptionsService } from './service';

type Schemas = components['schemas'];

/** Thin handlers for DESIGN §11's subscription operations; all need `subscriptions:manage`. */
export function subscriptionsRouter(subscriptions: SubscriptionsService): Router {
  const router = Router();
  router.use('/v1/subscriptions', requireScope('subscriptions:manage'));

  router.post('/v1/subscriptions', async (req, res) => {
    const created = await subscriptions.create(principalOf(res), req.body as Schemas['SubscriptionInput']);
    const answer: Schemas['SubscriptionCreated'] = {
      ...toWireSubscription(created),
      secret: created.secret,
      request_id: requestIdOf(res),
    };
    res.status(201).location(`/v1/subscriptions/${created.subscriptionId}`).json(answer);
  });

  router.get('/v1/subscriptions', async (req, res) => {
    const page = await subscriptions.list(principalOf(res), req.query as { limit?: number; cursor?: string });
    const answer: Schemas['SubscriptionPage'] = {
      subscriptions: page.items.map(toWireSubscription),
      pagination: pagination(page),
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  router.get('/v1/subscriptions/:subscription_id', async (req, res) => {
    const subscription = await subscriptions.get(principalOf(res), req.params.subscription_id as string);
    const answer: Schemas['SubscriptionResponse'] = {
      ...toWireSubscription(subscription),
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  router.delete('/v1/subscriptions/:subscription_id', async (req, res) => {
    await subscriptions.delete(principalOf(res), req.params.subscription_id as string);
    res.status(204).end();
  });

  router.get('/v1/subscriptions/:subscription_id/deliveries', async (req, res) => {
    const page = await subscriptions.deliveries(
      principalOf(res),
      req.params.subscription_id as string,
      req.query as { limit?: number; cursor?: string },
    );
    const answer: Schemas['DeliveryPage'] = {
      deliveries: page.items.map(toWireAttempt),
      pagination: pagination(page),
      request_id: requestIdOf(res),
    };
    res.status(200).json(answer);
  });

  return router;
}

function pagination(page: Page<unknown>): Schemas['Pagination'] {
  return { limit: page.limit, next_cursor: page.nextCursor, has_more: page.hasMore };
}

export function toWireSubscription(subscription: StoredSubscription): Schemas['Subscription'] {
  return {
    subscription_id: subscription.subscriptionId,
    target_url: subscription.targetUrl,
    event_types: subscription.eventTypes,
    sources: subscription.sources,
    description: subscription.description,
    status: subscription.status,
    disabled_reason: subscription.disabledReason,
    created_at: toIso(subscription.createdAt),
  };
}

function toWireAttempt(attempt: DeliveryAttempt): Schemas['DeliveryAttempt'] {
  return {
    event_id: attempt.eventId,
    attempt: attempt.attempt,
    attempted_at: toIso(attempt.attemptedAt),
    status_code: attempt.statusCode,
    duration_ms: attempt.durationMs,
    error: attempt.error,
    outcome: attempt.outcome,
    next_attempt_at: attempt.nextAttemptAt === null ? null : toIso(attempt.nextAttemptAt),
  };
}
