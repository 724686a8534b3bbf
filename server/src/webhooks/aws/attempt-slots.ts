/**
 * Room for attempts in flight within one invocation of a delivery Lambda: at most `total` at
 * once, and at most `perTarget` to one subscription, so that a slow receiver holds back only
 * its own deliveries (the in-process Deliverer's bounds, for a run that ends).
 */
export class AttemptSlots {
  private readonly byTarget = new Map<string, number>();
  /** Each running attempt, resolving to its subscription once it ended. */
  private readonly running = new Set<Promise<string>>();

  constructor(
    private readonly total: number,
    private readonly perTarget: number,
  ) {}

  get inFlight(): number {
    return this.running.size;
  }

  /** How many more attempts may start, whatever their target. */
  get room(): number {
    return this.total - this.running.size;
  }

  hasRoomFor(target: string): boolean {
    return this.room > 0 && (this.byTarget.get(target) ?? 0) < this.perTarget;
  }

  /** The subscriptions at their bound. */
  busyTargets(): Set<string> {
    const busy = new Set<string>();
    for (const [target, count] of this.byTarget) if (count >= this.perTarget) busy.add(target);
    return busy;
  }

  /** Starts `work`, which must not reject (each caller records its own failures). */
  start(target: string, work: () => Promise<void>): void {
    this.byTarget.set(target, (this.byTarget.get(target) ?? 0) + 1);
    const running: Promise<string> = work().then(() => {
      this.running.delete(running);
      const left = (this.byTarget.get(target) ?? 1) - 1;
      if (left === 0) this.byTarget.delete(target);
      else this.byTarget.set(target, left);
      return target;
    });
    this.running.add(running);
  }

  /** Waits for the next attempt to end; its subscription. */
  oneEnded(): Promise<string> {
    if (this.running.size === 0) throw new Error('no attempt is in flight');
    return Promise.race(this.running);
  }

  async allEnded(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }
}
