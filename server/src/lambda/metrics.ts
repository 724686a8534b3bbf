import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from 'pino';
import type { ErrorCode } from '../errors';
import type { AppMetrics } from '../metrics';
import type { AttemptEnd } from '../webhooks/attempt';
import type { DeliveryMetrics } from '../webhooks/aws/runtime';

export const METRICS_NAMESPACE = 'TriggersApi';

/**
 * The app's business metrics as CloudWatch Embedded Metric Format, written to stdout by
 * Powertools: CloudWatch turns those log lines into metrics, with no API call on the hot path.
 * Counts are buffered per invocation and published by `publish()` when it ends; errors carry
 * their code as a dimension, so each is its own EMF record.
 */
export class LambdaMetrics implements AppMetrics {
  private readonly metrics: Metrics;

  constructor(options: { stage: string; logger: Logger }) {
    this.metrics = new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: 'triggers-api',
      defaultDimensions: { stage: options.stage },
      logger: options.logger,
    });
  }

  eventsIngested(count: number): void {
    this.metrics.addMetric('EventsIngested', MetricUnit.Count, count);
  }

  eventsReplayed(count: number): void {
    this.metrics.addMetric('EventsReplayed', MetricUnit.Count, count);
  }

  eventsAcked(count: number): void {
    this.metrics.addMetric('EventsAcked', MetricUnit.Count, count);
  }

  eventsLeased(count: number): void {
    this.metrics.addMetric('EventsLeased', MetricUnit.Count, count);
  }

  eventsNacked(count: number): void {
    this.metrics.addMetric('EventsNacked', MetricUnit.Count, count);
  }

  eventsDeadLettered(count: number): void {
    this.metrics.addMetric('EventsDeadLettered', MetricUnit.Count, count);
  }

  errorAnswered(code: ErrorCode): void {
    const metric = this.metrics.singleMetric();
    metric.addDimension('code', code);
    metric.addMetric('ErrorsAnswered', MetricUnit.Count, 1);
  }

  /** Once per invocation, so metrics are written before Lambda freezes the container. */
  publish(): void {
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}

/** The metric each end of a webhook attempt counts in; other ends count nowhere. */
const ATTEMPT_METRICS: Partial<Record<AttemptEnd, string>> = {
  succeeded: 'WebhookDeliveriesSucceeded',
  retrying: 'WebhookDeliveriesRetrying',
  // The schedule ran out, or the target answered 410: a dead letter, kept in the attempts log
  // (outcome `failed`). The stack alarms on any.
  failed: 'WebhookDeliveriesFailed',
  // Its subscription was deleted or disabled before the attempt: nothing was sent.
  dropped: 'WebhookDeliveriesDropped',
};

/**
 * The webhook delivery Lambdas' metrics (webhooks/aws/), in the same namespace and with the
 * same dimensions as the API's, buffered per invocation like them.
 */
export class LambdaDeliveryMetrics implements DeliveryMetrics {
  private readonly metrics: Metrics;

  constructor(options: { stage: string; logger: Logger }) {
    this.metrics = new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: 'triggers-api',
      defaultDimensions: { stage: options.stage },
      logger: options.logger,
    });
  }

  attemptEnded(end: AttemptEnd): void {
    const name = ATTEMPT_METRICS[end];
    if (name !== undefined) this.metrics.addMetric(name, MetricUnit.Count, 1);
  }

  publish(): void {
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}
