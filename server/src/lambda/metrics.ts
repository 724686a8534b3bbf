import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from 'pino';
import type { ErrorCode } from '../errors';
import type { AppMetrics } from '../metrics';

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
