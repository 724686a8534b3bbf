import type { LeasedEvent, LeaseParams } from '@triggers-api/sdk';
import type { Context } from '../context.js';
import { EXIT } from '../errors.js';
import { HeldLeases, leaseOnce } from '../leases.js';
import { type Output, shortJson } from '../output.js';
import { stopOnSignals } from '../stop.js';

export interface TailOptions {
  source?: string;
  type?: string;
  ack?: boolean;
  max?: number;
}

/** Events leased at once: few, since tail prints them one by one. */
const BATCH = 10;

/**
 * Follows the inbox with long-poll leases and prints each event as it comes. With `--ack` it
 * acks each event after printing it; without, it only looks: it keeps what it printed leased
 * (extending the leases), so that it does not print it again, and gives it all back (nack,
 * no delay) when it exits. `--max N` exits 0 after N events. Ctrl-C exits 130, SIGTERM 143,
 * after giving back what it holds.
 */
export async function tail(ctx: Context, options: TailOptions): Promise<number> {
  const client = ctx.client();
  const { out } = ctx;
  const stopper = stopOnSignals();
  const held = new HeldLeases(client, out);
  const params: LeaseParams = {};
  if (options.source) params.source = options.source;
  if (options.type) params.event_type = options.type;
  let printed = 0;
  try {
    while (!stopper.signal.aborted && (options.max === undefined || printed < options.max)) {
      const limit = options.max === undefined ? BATCH : Math.min(BATCH, options.max - printed);
      const events = await leaseOnce(client, { ...params, limit }, stopper.signal, out);
      if (!events) break;
      for (const event of events) held.add(event);
      for (const event of events) {
        if (stopper.signal.aborted) break;
        printLeased(out, event);
        printed += 1;
        if (options.ack) {
          await client.events.ack(event.event_id, { leaseId: event.lease.lease_id });
          held.release(event);
        }
      }
    }
  } finally {
    await held.giveBack();
    stopper.dispose();
  }
  return stopper.exitCode() ?? EXIT.ok;
}

/** One event a line: `--json` prints it as leased (with `lease`), else its main fields. */
function printLeased(out: Output, event: LeasedEvent): void {
  if (out.json) {
    out.value(event, { compact: true });
    return;
  }
  out.line(
    [
      out.paint.dim(event.created_at),
      out.paint.bold(event.event_id),
      out.paint.cyan(event.event_type),
      event.source,
      shortJson(event.payload),
    ].join('  '),
  );
}
