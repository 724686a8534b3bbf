import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type DeliveryKey, deliveryKeyOfImage } from '../../store/dynamodb/delivery-stream';
import { attemptDelivery } from '../attempt';
import { AttemptSlots } from './attempt-slots';
import type { DeliveryContext, DeliveryRuntime } from './runtime';

export type StreamHandler = (
  event: DynamoDBStreamEvent,
  context: DeliveryContext,
) => Promise<DynamoDBBatchResponse>;

/** What one invocation did with its records, for its log line. */
interface StreamReport {
  records: number;
  /** Not the INSERT of a delivery record (the event source's filter should have left them out). */
  ignored: number;
  /** Refused by the claim: the sweep has it, it was delivered already, or it retries later. */
  skipped: number;
  attempted: number;
  /** Left for Lambda to retry: the store failed, or there was no time left to start them. */
  failed: number;
}

/**
 * The first attempt of each new delivery (DESIGN §11, "on AWS"): the events table's stream,
 * filtered by the event source mapping to the INSERTs of delivery records, invokes this with a
 * batch of them. Each record's delivery is claimed by its keys (WebhookStore.claim) and
 * attempted once (attempt.ts), all of them at once within the invocation's bounds. A claim
 * that is refused is skipped: the sweep took that delivery first, or this record is a retry
 * of one already attempted (Lambda retries from the first failed record on), so a record
 * never sends twice while its claim holds.
 *
 * A record whose claim or attempt threw (the store failed) is reported in
 * `batchItemFailures`, so Lambda retries from it rather than the whole batch; so is one there
 * was no time left to start. Whatever Lambda gives up on is still in the table and due: the
 * sweep delivers it.
 */
export function createStreamHandler(runtime: DeliveryRuntime): StreamHandler {
  const { logger, metrics } = runtime;
  return async (event, context) => {
    const report: StreamReport = {
      records: event.Records.length,
      ignored: 0,
      skipped: 0,
      attempted: 0,
      failed: 0,
    };
    const failures: string[] = [];
    const fail = (record: DynamoDBRecord) => {
      report.failed += 1;
      const sequenceNumber = record.dynamodb?.SequenceNumber;
      if (sequenceNumber !== undefined) failures.push(sequenceNumber);
    };
    const pending: Array<{ record: DynamoDBRecord; key: DeliveryKey }> = [];
    for (const record of event.Records) {
      const key = record.eventName === 'INSERT' ? deliveryKeyOfImage(record.dynamodb?.NewImage) : undefined;
      if (key) pending.push({ record, key });
      else report.ignored += 1;
    }

    const deliver = async ({ record, key }: { record: DynamoDBRecord; key: DeliveryKey }) => {
      try {
        const claim = await runtime.webhooks.claim(
          key.tenantId,
          key.subscriptionId,
          key.eventId,
          runtime.claimMs,
        );
        if (!claim) {
          report.skipped += 1;
          return;
        }
        report.attempted += 1;
        const end = await attemptDelivery(claim, runtime);
        metrics.attemptEnded(end);
        if (end === 'failed') logFailed(runtime, key);
      } catch (error) {
        logger.warn(
          { err: error, tenant_id: key.tenantId, subscription_id: key.subscriptionId, event_id: key.eventId },
          'webhook delivery record could not be attempted; Lambda retries it',
        );
        fail(record);
      }
    };

    const slots = new AttemptSlots(runtime.concurrency, runtime.concurrencyPerTarget);
    try {
      while (pending.length > 0) {
        if (context.getRemainingTimeInMillis() < runtime.attemptBudgetMs) {
          for (const left of pending.splice(0)) fail(left.record);
          break;
        }
        const next = pending.findIndex(({ key }) => slots.hasRoomFor(key.subscriptionId));
        if (next === -1) {
          await slots.oneEnded();
          continue;
        }
        const [item] = pending.splice(next, 1);
        if (item) slots.start(item.key.subscriptionId, () => deliver(item));
      }
      await slots.allEnded();
    } finally {
      metrics.publish();
    }
    logger.info(report, 'webhook stream batch done');
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** A dead letter: the attempt log keeps it (outcome `failed`); the metric raises the alarm. */
export function logFailed(runtime: DeliveryRuntime, key: DeliveryKey): void {
  runtime.logger.warn(
    { tenant_id: key.tenantId, subscription_id: key.subscriptionId, event_id: key.eventId },
    'webhook delivery failed for good',
  );
}
