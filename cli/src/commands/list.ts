import type { Event, EventListParams } from '@triggers-api/sdk';
import type { Context } from '../context.js';
import { printTable, shortJson } from '../output.js';

export interface ListOptions {
  status?: EventListParams['status'];
  source?: string;
  type?: string;
  limit: number;
  order?: EventListParams['order'];
}

/** The API's largest page: `--limit` beyond it reads more pages. */
const PAGE_MAX = 100;

/** `GET /v1/events`: newest first unless `--order asc`, at most `--limit` events. */
export async function list(ctx: Context, options: ListOptions): Promise<void> {
  const params: EventListParams = { limit: Math.min(options.limit, PAGE_MAX) };
  if (options.status) params.status = options.status;
  if (options.source) params.source = options.source;
  if (options.type) params.event_type = options.type;
  if (options.order) params.order = options.order;
  const events: Event[] = [];
  for await (const event of ctx.client().events.list(params)) {
    events.push(event);
    if (events.length >= options.limit) break;
  }
  const { out } = ctx;
  if (out.json) {
    out.value(events);
    return;
  }
  printTable(
    out,
    ['EVENT ID', 'CREATED', 'STATUS', 'SOURCE', 'TYPE', 'DELIVERIES', 'PAYLOAD'],
    events.map((event) => [
      event.event_id,
      event.created_at,
      out.paint.status(event.status),
      event.source,
      event.event_type,
      String(event.delivery_count),
      shortJson(event.payload, 40),
    ]),
    'No events.',
  );
}
