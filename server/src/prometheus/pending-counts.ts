import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { EventStore, PendingCounts } from '../store/event-store';

export interface CachedPendingCountsOptions {
  store: Pick<EventStore, 'countPending'>;
  clock: Clock;
  /** Tenants with a gauge of their own; the rest are summed (TRIGGERS_METRICS_TOP_TENANTS). */
  topTenants: number;
  /** A count is reused this long: at most one store query per interval, however many scrapes. */
  refreshMs: number;
  logger: Logger;
}

/**
 * The pending counts the gauges show, counted by the store at scrape time but at most once per
 * `refreshMs` (measured on the injected clock): a scrape storm, or several scrapers, cost the
 * store one query per interval. Scrapes that come while a count runs share it. A count that
 * fails keeps the previous one (and is tried again an interval later, not at the next scrape:
 * a failing store is not hammered either); the failure is logged.
 */
export class CachedPendingCounts {
  private counts: PendingCounts | undefined;
  private countedAt = Number.NEGATIVE_INFINITY;
  private counting: Promise<PendingCounts | undefined> | undefined;
  private warnedIncomplete = false;

  constructor(private readonly options: CachedPendingCountsOptions) {}

  /** The latest counts, refreshed first when they are older than `refreshMs`; none before the first. */
  read(): Promise<PendingCounts | undefined> {
    if (this.counting) return this.counting;
    if (this.options.clock() - this.countedAt < this.options.refreshMs) return Promise.resolve(this.counts);
    this.countedAt = this.options.clock();
    this.counting = this.count().finally(() => {
      this.counting = undefined;
    });
    return this.counting;
  }

  private async count(): Promise<PendingCounts | undefined> {
    const { store, topTenants, logger } = this.options;
    try {
      this.counts = await store.countPending(topTenants);
      if (!this.counts.complete && !this.warnedIncomplete) {
        this.warnedIncomplete = true;
        logger.warn(
          { counted: this.counts.total },
          'pending events: the store stopped counting at its read bound; the gauges show lower bounds',
        );
      }
    } catch (error) {
      logger.warn({ err: error }, 'pending events could not be counted; the gauges keep the last counts');
    }
    return this.counts;
  }
}
