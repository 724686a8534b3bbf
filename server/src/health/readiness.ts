import type { Clock } from '../clock';
import { type NotReadyReason, UnavailableError } from '../errors';
import type { EventStore } from '../store/event-store';

/** A probe write that does not answer within this counts as failed (as a ping does for health). */
const PROBE_TIMEOUT_MS = 2_000;

/** What the latest write (a request's or a probe's) says about the store. */
export type WriteObservation =
  | { ready: true; at: number }
  | {
      ready: false;
      at: number;
      reason: NotReadyReason;
      /** When the writes began to fail: the first failure since the last success. */
      since: number;
    };

export interface ReadinessOptions {
  store: EventStore;
  clock: Clock;
  /** An observation younger than this is answered as it is; an older one is probed again. */
  probeIntervalMs: number;
}

/**
 * Readiness (GET /v1/health/ready): can the store take writes now? Liveness (/v1/health) pings
 * with a read, which a full disk does not stop. This remembers the outcome of the latest write,
 * made by a request (through `tracking(store)`) or by a probe (EventStore.probeWrite), and
 * answers from it while it is younger than the probe interval: so a failing disk is reported
 * by the very next readiness check, with no probe, and a server that gets no writes (taken out
 * of rotation because it was not ready) still finds out, by its probe, when it can write again.
 * Time is the injected clock's. No timer runs: probes happen only when asked, at most one at once.
 */
export class Readiness {
  private latest: WriteObservation | undefined;
  private probing: Promise<void> | undefined;

  constructor(private readonly options: ReadinessOptions) {}

  /** The latest observation when fresh enough, else one made now by a probe write. */
  async check(): Promise<WriteObservation> {
    const now = this.options.clock();
    const latest = this.latest;
    // A clock that went back makes the observation stale too: it is then of unknown age.
    if (latest && latest.at <= now && now - latest.at < this.options.probeIntervalMs) return latest;
    return this.probe();
  }

  /** Records the outcome of a write: only faults of the store (UnavailableError) count against it. */
  recordWrite(error?: unknown, reason: NotReadyReason = 'write_failed'): void {
    const at = this.options.clock();
    if (error === undefined) {
      this.latest = { ready: true, at };
    } else if (error instanceof UnavailableError) {
      const since = this.latest?.ready === false ? this.latest.since : at;
      this.latest = { ready: false, at, reason, since };
    }
  }

  /** The store, with the outcome of each of its writes recorded here. */
  tracking(store: EventStore): EventStore {
    return new WriteTrackingStore(store, this);
  }

  private async probe(): Promise<WriteObservation> {
    if (!this.probing) {
      this.probing = this.options.store.probeWrite().then(
        () => this.recordWrite(),
        (error: unknown) =>
          this.recordWrite(
            error instanceof UnavailableError ? error : new UnavailableError({ cause: error }),
            'probe_failed',
          ),
      );
      const done = this.probing;
      void done.finally(() => {
        if (this.probing === done) this.probing = undefined;
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.probing.then(() => false),
      new Promise<true>((resolve) => {
        timer = setTimeout(() => resolve(true), PROBE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.recordWrite(new UnavailableError(), 'probe_timed_out');
    return this.latest as WriteObservation;
  }
}

/** Every call goes to `store`; the writes' outcomes also go to the readiness record. */
class WriteTrackingStore implements EventStore {
  readonly kind: EventStore['kind'];

  constructor(
    private readonly store: EventStore,
    private readonly readiness: Readiness,
  ) {
    this.kind = store.kind;
  }

  private async track<T>(write: Promise<T>): Promise<T> {
    try {
      const result = await write;
      this.readiness.recordWrite();
      return result;
    } catch (error) {
      this.readiness.recordWrite(error);
      throw error;
    }
  }

  create: EventStore['create'] = (request) => this.track(this.store.create(request));
  ack: EventStore['ack'] = (...args) => this.track(this.store.ack(...args));
  lease: EventStore['lease'] = (query) => this.track(this.store.lease(query));
  nack: EventStore['nack'] = (...args) => this.track(this.store.nack(...args));
  extend: EventStore['extend'] = (...args) => this.track(this.store.extend(...args));
  redeliver: EventStore['redeliver'] = (...args) => this.track(this.store.redeliver(...args));
  delete: EventStore['delete'] = (...args) => this.track(this.store.delete(...args));
  get: EventStore['get'] = (...args) => this.store.get(...args);
  listPending: EventStore['listPending'] = (query) => this.store.listPending(query);
  listEvents: EventStore['listEvents'] = (query) => this.store.listEvents(query);
  countPending: EventStore['countPending'] = (limit) => this.store.countPending(limit);
  ping: EventStore['ping'] = () => this.store.ping();
  probeWrite: EventStore['probeWrite'] = () => this.track(this.store.probeWrite());
  close: EventStore['close'] = () => this.store.close();
}
