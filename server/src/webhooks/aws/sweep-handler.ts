import type { ClaimedDelivery } from '../../store/webhook-store';
import { type AttemptEnd, attemptDelivery } from '../attempt';
import { AttemptSlots } from './attempt-slots';
import type { DeliveryContext, DeliveryRuntime } from './runtime';
import { logFailed } from './stream-handler';

/** Deliveries claimed per claimDue at most (each is a conditional write). */
const MAX_CLAIM = 100;

/** What one sweep did. */
export interface SweepReport {
  claimed: number;
  ended: Partial<Record<AttemptEnd, number>>;
  /** Attempts whose recording threw (their claims run out; a later sweep makes them again). */
  errors: number;
}

export type SweepHandler = (event: unknown, context: DeliveryContext) => Promise<SweepReport>;

/**
 * The sweep (DESIGN §11, "on AWS"), run every minute by an EventBridge schedule: claims due
 * deliveries (claimDue) and attempts them, until nothing is due or the invocation has too
 * little time left to start another attempt. It is what makes retries happen (a retrying
 * delivery is due again later), and first attempts the stream did not make (its invocation
 * failed, timed out or fell behind), and claims of crashed invocations come back.
 *
 * Bounded like the long-running deliverer: at most `concurrency` attempts in flight, at most
 * `concurrencyPerTarget` to one subscription (claims skip subscriptions at their bound; a
 * claim that brought more of one subscription than it has room for keeps them waiting here
 * while their claims have time left). A failed claim stops the sweep; it still waits for its
 * attempts in flight, then throws, as it does when an attempt could not be recorded, so that
 * the function's Errors metric (and its alarm) sees it.
 */
export function createSweepHandler(runtime: DeliveryRuntime): SweepHandler {
  const { webhooks, logger, metrics, clock } = runtime;
  return async (_event, context) => {
    const report: SweepReport = { claimed: 0, ended: {}, errors: 0 };
    const slots = new AttemptSlots(runtime.concurrency, runtime.concurrencyPerTarget);
    const waiting = new Map<string, ClaimedDelivery[]>();
    let waitingCount = 0;
    let claimError: unknown;
    const timeLeft = () => context.getRemainingTimeInMillis() >= runtime.attemptBudgetMs;

    const attempt = async (claim: ClaimedDelivery) => {
      try {
        const end = await attemptDelivery(claim, runtime);
        report.ended[end] = (report.ended[end] ?? 0) + 1;
        metrics.attemptEnded(end);
        if (end === 'failed') logFailed(runtime, claim);
      } catch (error) {
        report.errors += 1;
        logger.warn(
          {
            err: error,
            tenant_id: claim.tenantId,
            subscription_id: claim.subscriptionId,
            event_id: claim.eventId,
          },
          'webhook attempt could not be recorded; its claim runs out and a later sweep makes it again',
        );
      }
    };
    const startOrWait = (claim: ClaimedDelivery) => {
      if (slots.hasRoomFor(claim.subscriptionId)) {
        slots.start(claim.subscriptionId, () => attempt(claim));
        return;
      }
      const queue = waiting.get(claim.subscriptionId) ?? [];
      queue.push(claim);
      waiting.set(claim.subscriptionId, queue);
      waitingCount += 1;
    };
    /** An attempt of `target` ended: start its next waiting delivery, if its claim still has time. */
    const startWaiting = (target: string) => {
      const queue = waiting.get(target) ?? [];
      while (queue.length > 0 && slots.hasRoomFor(target)) {
        const claim = queue.shift() as ClaimedDelivery;
        waitingCount -= 1;
        // Half its claim gone, or too late for this invocation: let the claim run out and a
        // later sweep take it, rather than risk two deliverers sending it at once (the
        // long-running deliverer's rule).
        if (claim.claimedUntil - clock() > runtime.claimMs / 2 && timeLeft()) {
          slots.start(target, () => attempt(claim));
        }
      }
      if (queue.length === 0) waiting.delete(target);
    };

    // More may be due while the last claim came back full, or when a subscription that claim
    // skipped (at its bound) has room again.
    let mayHaveMore = true;
    let skipped = new Set<string>();
    try {
      for (;;) {
        const room = slots.room - waitingCount;
        if (mayHaveMore && claimError === undefined && room > 0 && timeLeft()) {
          skipped = new Set([...slots.busyTargets(), ...waiting.keys()]);
          const limit = Math.min(room, MAX_CLAIM);
          let claimed: ClaimedDelivery[];
          try {
            claimed = await webhooks.claimDue({
              limit,
              claimMs: runtime.claimMs,
              skipSubscriptions: skipped,
            });
          } catch (error) {
            claimError = error;
            continue;
          }
          report.claimed += claimed.length;
          for (const claim of claimed) startOrWait(claim);
          mayHaveMore = claimed.length === limit;
          continue;
        }
        // Waiting deliveries always belong to a subscription with attempts in flight.
        if (slots.inFlight === 0) break;
        const ended = await slots.oneEnded();
        // Attempts that ended in the same turn are seen as one: give every waiting
        // subscription its chance, not only the one named, or its deliveries could be left
        // waiting with nothing of it in flight to start them.
        for (const target of [ended, ...waiting.keys()]) startWaiting(target);
        if ([...skipped].some((target) => slots.hasRoomFor(target))) mayHaveMore = true;
      }
    } finally {
      metrics.publish();
    }
    logger.info(report, 'webhook sweep done');
    if (claimError !== undefined) throw claimError;
    if (report.errors > 0) {
      throw new Error(`${report.errors} webhook attempt(s) could not be recorded; see the warnings above`);
    }
    return report;
  };
}
