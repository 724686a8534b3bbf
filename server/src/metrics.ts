import type { ErrorCode } from './errors';

/**
 * Business metrics: the one place the app says what happened, whatever records it. On Lambda
 * they become CloudWatch metrics (lambda/metrics.ts); locally they are not recorded.
 */
export interface AppMetrics {
  /** New events written (a replay is not one). */
  eventsIngested(count: number): void;
  /** Requests answered from an earlier request's idempotency key. */
  eventsReplayed(count: number): void;
  /** Events moved from pending to acknowledged. */
  eventsAcked(count: number): void;
  /** Events handed out by a lease (each lease of an event counts, redeliveries included). */
  eventsLeased(count: number): void;
  /** Leases ended by a nack (the event available again, or dead). */
  eventsNacked(count: number): void;
  /**
   * Events a nack made dead. An event whose last lease ran out becomes dead inside the store
   * when a lease meets it, which the app does not see: `GET /v1/events?status=dead` lists all.
   */
  eventsDeadLettered(count: number): void;
  /** An error answer, by its envelope code. */
  errorAnswered(code: ErrorCode): void;
}

export const noMetrics: AppMetrics = {
  eventsIngested() {},
  eventsReplayed() {},
  eventsAcked() {},
  eventsLeased() {},
  eventsNacked() {},
  eventsDeadLettered() {},
  errorAnswered() {},
};
