import { readFileSync } from 'node:fs';
import type { Event } from '@triggers-api/sdk';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import type { Output } from '../output.js';

/**
 * `--data`: inline JSON, `@path` for a file, or `@-` for stdin. It must be a JSON object
 * (the API's `payload`); anything else is a usage error, said before sending.
 */
export function parseData(data: string | undefined): Record<string, unknown> {
  if (data === undefined) return {};
  let text = data;
  if (data.startsWith('@')) {
    const file = data.slice(1);
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `--data ${data}: cannot read ${file === '-' ? 'stdin' : file} (${(error as Error).message})`,
      );
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--data is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError('--data must be a JSON object, e.g. \'{"order_id": "ord_1"}\'');
  }
  return value as Record<string, unknown>;
}

export interface SendOptions {
  source: string;
  type: string;
  data?: string;
  idempotencyKey?: string;
}

export async function send(ctx: Context, options: SendOptions): Promise<void> {
  const payload = parseData(options.data);
  const created = await ctx
    .client()
    .events.create(
      { source: options.source, event_type: options.type, payload },
      options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey },
    );
  const { out } = ctx;
  if (out.json) {
    out.value(created);
    return;
  }
  const how = created.replayed ? 'Replayed (sent before with this idempotency key)' : 'Created';
  out.line(`${how} ${out.paint.bold(created.event_id)} ${out.paint.status(created.status)}`);
}

export async function get(ctx: Context, id: string): Promise<void> {
  const event = await ctx.client().events.get(id);
  if (ctx.out.json) {
    ctx.out.value(event);
    return;
  }
  printEvent(ctx.out, event);
}

export async function ack(ctx: Context, id: string): Promise<void> {
  const acked = await ctx.client().events.ack(id);
  const { out } = ctx;
  if (out.json) {
    out.value(acked);
    return;
  }
  out.line(`Acknowledged ${out.paint.bold(acked.event_id)} at ${acked.acknowledged_at}`);
}

export async function redeliver(ctx: Context, id: string): Promise<void> {
  const redelivered = await ctx.client().events.redeliver(id);
  const { out } = ctx;
  if (out.json) {
    out.value(redelivered);
    return;
  }
  out.line(
    `Redelivered ${out.paint.bold(redelivered.event_id)}: ${out.paint.status(redelivered.status)} again`,
  );
}

/** One event, one field a line, the payload indented below. */
export function printEvent(out: Output, event: Event): void {
  const fields: [string, string][] = [
    ['event_id', out.paint.bold(event.event_id)],
    ['status', out.paint.status(event.status)],
    ['source', event.source],
    ['event_type', event.event_type],
    ['created_at', event.created_at],
    ['expires_at', event.expires_at],
    ['acknowledged_at', event.acknowledged_at ?? '-'],
    ['delivery_count', String(event.delivery_count)],
    ['leased_until', event.leased_until ?? '-'],
    ['metadata', JSON.stringify(event.metadata)],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  for (const [name, value] of fields) out.line(`${out.paint.dim(name.padEnd(width))}  ${value}`);
  out.line(out.paint.dim('payload'));
  out.line(JSON.stringify(event.payload, null, 2));
}
