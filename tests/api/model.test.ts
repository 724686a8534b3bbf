import http from 'node:http';
import fc from 'fast-check';
import request, { type Response } from 'supertest';
import { checked } from '../helpers/contract';
import {
  type EventBody,
  type InboxFilters,
  iso,
  type LeaseFilters,
  type ListFilters,
  MAX_DELIVERIES,
  type ModelCursor,
  type Priority,
  RETENTION_MS,
  SCOPES_OF,
  type Scope,
  type Status,
  TENANT_OF,
  type Tenant,
  TriggersModel,
  toWire,
  type Who,
} from '../helpers/model-triggers';
import { createTestApp, TEST_STORE, type TestApp } from '../helpers/test-app';

/**
 * Model-based test (fast-check `commands`): random sequences of ingest (with and without
 * idempotency keys), replays, bulk ingest, get, ack, bulk ack, delete, inbox pages and cursor
 * reuse, leases and what is done with them (ack, nack, extend, with the latest lease or a
 * stale one, from the owner or another tenant), redelivery, the newest-first event list, and
 * clock jumps that run leases out, from two tenants and a read-only key, sent over real HTTP to the real app on the
 * real store (the jest project picks SQLite or DynamoDB Local). After every step the answer
 * is checked against the contract and against a plain in-memory model
 * (tests/helpers/model-triggers.ts), which the step then updates.
 *
 * Every run uses fresh tenants on one app, so runs cannot see each other's events unless
 * tenant isolation breaks, which the model would catch. Commands name events and cursors by
 * their position in the run (`event[2]` is the third event id the API issued, `event[-1]`
 * the last one), so a shrunk counterexample reads as a script.
 */

const SEED = 20_261_127;
// Fewer runs on DynamoDB Local, whose requests cost about twice SQLite's: < 40 s each on 2 busy cores.
const NUM_RUNS = Number(process.env.MODEL_TEST_RUNS ?? (TEST_STORE === 'dynamodb' ? 40 : 80));
const MAX_COMMANDS = 50;
const PROPERTY_TIMEOUT_MS = 240_000;

const UNKNOWN_ID = '0193a0b0-0000-7000-8000-000000000000';
const MALFORMED_ID = 'not-an-id';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOUR_MS = 60 * 60 * 1000;

let t: TestApp;
let server: http.Server;
let runs = 0;
let executed = 0;
let httpRequests = 0;
/** Executed commands by kind, printed at the end with the answers and cases below. */
const executedByKind = new Map<string, number>();
/** Answers seen, by route, status and error code. */
const answersSeen = new Map<string, number>();
/** Cases of the model met (replays, cursor reuse, expiry...), to show the runs reach them. */
const casesSeen = new Map<string, number>();
const tally = (what: string) => casesSeen.set(what, (casesSeen.get(what) ?? 0) + 1);

// ---------------------------------------------------------------------------------------
// The model of one run, and the real side
// ---------------------------------------------------------------------------------------

type Placement = 'header' | 'metadata' | 'both' | 'conflict';
type BulkItem = { body: EventBody; ownKey?: string } | { invalid: keyof typeof INVALID_ITEMS };

/** A write sent with idempotency keys, kept so that a later command can send it again. */
type KeyedWrite =
  | { kind: 'single'; who: Who; body: EventBody; key: string; placement: Placement }
  | { kind: 'bulk'; who: Who; items: BulkItem[]; header?: string };

/** A lease the API granted in this run: commands name leases by their position here. */
interface GrantedLease {
  tenant: Tenant;
  eventId: string;
  leaseId: string;
}

class RunModel extends TriggersModel {
  readonly writes: KeyedWrite[] = [];
  readonly leases: GrantedLease[] = [];
}

interface Real {
  keys: Record<Who, string>;
}

/** Bulk items that break the EventInput schema: each must fail alone with VALIDATION_ERROR. */
const INVALID_ITEMS = {
  'blank source': { source: '   ', event_type: 'order.created', payload: {} },
  'no payload': { source: 'billing', event_type: 'order.created' },
  'extra field': { source: 'billing', event_type: 'order.created', payload: {}, status: 'pending' },
  'payload not an object': { source: 'billing', event_type: 'order.created', payload: 'text' },
};

// ---------------------------------------------------------------------------------------
// HTTP and the checks every answer goes through
// ---------------------------------------------------------------------------------------

interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
}

/** One real request, checked against the contract (status documented, body of its schema). */
async function call(
  real: Real,
  who: Who,
  method: 'get' | 'post' | 'delete',
  path: string,
  options: CallOptions = {},
): Promise<Response> {
  httpRequests += 1;
  let req = request(server)[method](path).set('X-API-Key', real.keys[who]);
  for (const [name, value] of Object.entries(options.headers ?? {})) req = req.set(name, value);
  if (options.query) {
    req = req.query(Object.fromEntries(Object.entries(options.query).filter(([, v]) => v !== undefined)));
  }
  if (options.body !== undefined) req = req.send(options.body as object);
  const res = await checked(req);
  const route = path.replace(/^\/v1\/events\/(?!bulk)[^/]+/, '/v1/events/{id}');
  const outcome = `${method.toUpperCase()} ${route} ${res.status} ${res.body?.error?.code ?? ''}`.trim();
  answersSeen.set(outcome, (answersSeen.get(outcome) ?? 0) + 1);
  return res;
}

function expectError(res: Response, status: number, code: string, details?: Record<string, unknown>): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  if (details) expect(res.body.error.details).toEqual(details);
}

/** The details of a 409 for an event in the wrong state. */
function conflictDetails(outcome: { status: Status; acknowledgedAt: number | null }) {
  return {
    current_status: outcome.status,
    acknowledged_at: outcome.acknowledgedAt === null ? null : iso(outcome.acknowledgedAt),
  };
}

function expectConflict(res: Response, outcome: { status: Status; acknowledgedAt: number | null }): void {
  expectError(res, 409, 'CONFLICT', conflictDetails(outcome));
}

/** 409 because the lease named is not the event's latest (or the lease is too long). */
function expectLeaseConflict(res: Response, details: Record<string, unknown>): void {
  expectError(res, 409, 'CONFLICT');
  expect(res.body.error.details).toMatchObject(details);
}

/** 403 FORBIDDEN when the key lacks the scope; true when the caller may go on. */
function allowed(res: Response, who: Who, scope: Scope): boolean {
  if (SCOPES_OF[who].includes(scope)) return true;
  expectError(res, 403, 'FORBIDDEN', { required_scope: scope });
  return false;
}

/** A newly created event's id: a lower-case UUID never issued before in this run. */
function expectNewId(m: RunModel, id: unknown): asserts id is string {
  expect(id).toEqual(expect.stringMatching(UUID));
  expect(m.issued).not.toContain(id);
}

/** What the server received: the body after JSON (so -0 is 0, as on the wire). */
function onTheWire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

// ---------------------------------------------------------------------------------------
// Shared steps: ingest one, ingest in bulk, read a page
// ---------------------------------------------------------------------------------------

async function ingestOne(
  m: RunModel,
  r: Real,
  who: Who,
  body: EventBody,
  key: string | undefined,
  placement: Placement,
): Promise<void> {
  const sent: EventBody = structuredClone(body);
  const headers: Record<string, string> = {};
  if (key !== undefined) {
    if (placement !== 'metadata') headers['Idempotency-Key'] = key;
    if (placement === 'metadata' || placement === 'both')
      sent.metadata = { ...sent.metadata, idempotency_key: key };
    if (placement === 'conflict') sent.metadata = { ...sent.metadata, idempotency_key: `${key}-other` };
  }

  const res = await call(r, who, 'post', '/v1/events', { body: sent, headers });

  if (!allowed(res, who, 'events:write')) return;
  if (key !== undefined && placement === 'conflict') return expectError(res, 400, 'VALIDATION_ERROR');
  const tenant = TENANT_OF[who];
  const wire = onTheWire(sent);
  const outcome = m.ingestOutcome(tenant, key, wire);
  if (key !== undefined) tally(`ingest with a key: ${outcome.kind}`);
  if (outcome.kind === 'reused') {
    return expectError(res, 422, 'IDEMPOTENCY_KEY_REUSED', {
      idempotency_key: key,
      event_id: outcome.eventId,
    });
  }
  expect(res.status).toBe(201);
  const id = res.body.event_id;
  if (outcome.kind === 'create') {
    expectNewId(m, id);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(res.body).toEqual({
      event_id: id,
      created_at: iso(m.now),
      status: 'pending',
      expires_at: iso(m.now + RETENTION_MS),
      request_id: expect.any(String),
    });
    m.created(tenant, id, wire, key, true);
  } else {
    expect(res.headers['idempotent-replayed']).toBe('true');
    expect(res.body).toEqual({
      event_id: outcome.eventId,
      created_at: iso(outcome.createdAt),
      // The original answer, even if the event was acked (or deleted) since.
      status: 'pending',
      expires_at: iso(outcome.expiresAt),
      request_id: expect.any(String),
    });
  }
  expect(res.headers.location).toBe(`/v1/events/${id}`);
}

function withOwnKey(body: EventBody, key: string | undefined): EventBody {
  return key === undefined ? body : { ...body, metadata: { ...body.metadata, idempotency_key: key } };
}

async function ingestBulk(m: RunModel, r: Real, who: Who, items: BulkItem[], header?: string): Promise<void> {
  const sentItems = items.map((item) =>
    'invalid' in item ? INVALID_ITEMS[item.invalid] : withOwnKey(item.body, item.ownKey),
  );

  const res = await call(r, who, 'post', '/v1/events/bulk', {
    body: { items: sentItems },
    headers: header === undefined ? {} : { 'Idempotency-Key': header },
  });

  if (!allowed(res, who, 'events:write')) return;
  expect(res.status).toBe(200);
  const tenant = TENANT_OF[who];
  const answered = new Map<number, { event_id?: unknown }>(
    (res.body.successful as Array<{ index: number; event_id: unknown }>).map((s) => [s.index, s]),
  );
  const successful: unknown[] = [];
  const failed: unknown[] = [];
  const keysBefore = new Set<string>();
  // Items are independent; the model applies them in index order, so a key given twice in
  // one request is claimed by its first occurrence.
  items.forEach((item, index) => {
    if ('invalid' in item) {
      tally('bulk item: invalid');
      failed.push({
        index,
        error: { code: 'VALIDATION_ERROR', message: expect.any(String), details: expect.any(Object) },
      });
      return;
    }
    const wire = onTheWire(sentItems[index] as EventBody);
    const key = item.ownKey ?? (header === undefined ? undefined : `${header}:${index}`);
    const outcome = m.ingestOutcome(tenant, key, wire);
    tally(`bulk item${key === undefined ? '' : ' with a key'}: ${outcome.kind}`);
    if (key !== undefined && keysBefore.has(key))
      tally(`bulk item with the key of an earlier item: ${outcome.kind}`);
    if (key !== undefined) keysBefore.add(key);
    if (outcome.kind === 'reused') {
      failed.push({
        index,
        error: {
          code: 'IDEMPOTENCY_KEY_REUSED',
          message: expect.any(String),
          details: { idempotency_key: key, event_id: outcome.eventId },
        },
      });
    } else if (outcome.kind === 'replay') {
      successful.push({
        index,
        event_id: outcome.eventId,
        created_at: iso(outcome.createdAt),
        status: 'pending',
        replayed: true,
      });
    } else {
      const id = answered.get(index)?.event_id;
      expectNewId(m, id);
      successful.push({ index, event_id: id, created_at: iso(m.now), status: 'pending', replayed: false });
      // A key derived from the header is not the event's own: it is not shown in its metadata.
      m.created(tenant, id, wire, key, item.ownKey !== undefined);
    }
  });
  expect(res.body).toEqual({ successful, failed, request_id: expect.any(String) });
}

function sameFilters(a: InboxFilters, b: InboxFilters): boolean {
  const keys: Array<keyof InboxFilters> = [
    'source',
    'event_type',
    'priority',
    'created_after',
    'created_before',
  ];
  return keys.every((key) => a[key] === b[key]);
}

/** One inbox page, first (no cursor) or next (an earlier cursor, possibly misused). */
async function readPage(
  m: RunModel,
  r: Real,
  who: Who,
  filters: InboxFilters,
  limit: number,
  cursor?: ModelCursor,
): Promise<void> {
  const res = await call(r, who, 'get', '/v1/inbox', { query: { ...filters, limit, cursor: cursor?.text } });

  const tenant = TENANT_OF[who];
  if (cursor && (cursor.tenant !== tenant || !sameFilters(cursor.filters, filters))) {
    return expectError(res, 400, 'INVALID_CURSOR');
  }
  const expected = m.page(tenant, filters, limit, cursor?.position);
  if (cursor) tally(cursor.uses++ === 0 ? 'page after a cursor' : 'page after a cursor used before');
  tally(expected.hasMore ? 'page with more after it' : 'last page');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    events: expected.events.map(toWire),
    pagination: {
      limit,
      has_more: expected.hasMore,
      next_cursor: expected.hasMore ? expect.any(String) : null,
    },
    request_id: expect.any(String),
  });
  const last = expected.events.at(-1);
  if (expected.hasMore && last) {
    m.cursors.push({ tenant, filters, position: last, text: res.body.pagination.next_cursor, uses: 0 });
  }
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/** An event named by its position among the ids issued in the run, or an id never issued. */
type Ref = { k: number; upper: boolean } | 'unknown' | 'malformed';

function refExists(m: RunModel, ref: Ref): boolean {
  if (typeof ref === 'string') return true;
  return ref.k >= 0 ? ref.k < m.issued.length : -ref.k <= m.issued.length;
}

function resolveRef(m: RunModel, ref: Ref): string {
  if (ref === 'unknown') return UNKNOWN_ID;
  if (ref === 'malformed') return MALFORMED_ID;
  const id = m.issued.at(ref.k) as string;
  return ref.upper ? id.toUpperCase() : id;
}

function showRef(ref: Ref): string {
  if (typeof ref === 'string') return ref;
  return `event[${ref.k}]${ref.upper ? ' in upper case' : ''}`;
}

abstract class ModelCommand implements fc.AsyncCommand<RunModel, Real> {
  check(_m: Readonly<RunModel>): boolean {
    return true;
  }
  async run(m: RunModel, r: Real): Promise<void> {
    executed += 1;
    const kind = this.toString().replace(/\(.*/s, '');
    executedByKind.set(kind, (executedByKind.get(kind) ?? 0) + 1);
    await this.step(m, r);
  }
  protected abstract step(m: RunModel, r: Real): Promise<void>;
  abstract toString(): string;
}

class Ingest extends ModelCommand {
  constructor(
    readonly who: Who,
    readonly body: EventBody,
    readonly key: string | undefined,
    readonly placement: Placement,
  ) {
    super();
  }
  async step(m: RunModel, r: Real) {
    if (
      this.key !== undefined &&
      this.placement !== 'conflict' &&
      SCOPES_OF[this.who].includes('events:write')
    ) {
      m.writes.push({
        kind: 'single',
        who: this.who,
        body: this.body,
        key: this.key,
        placement: this.placement,
      });
    }
    await ingestOne(m, r, this.who, this.body, this.key, this.placement);
  }
  toString() {
    const key = this.key === undefined ? '' : `, key ${this.key} in ${this.placement}`;
    return `ingest(${this.who}${key}, ${JSON.stringify(this.body)})`;
  }
}

type ReplayVariant = 'same' | 'key moved' | 'body changed' | 'other tenant';

/** Sends `write[k]` (the k-th write with idempotency keys of the run) again. */
class Replay extends ModelCommand {
  constructor(
    readonly k: number,
    readonly variant: ReplayVariant,
  ) {
    super();
  }
  override check(m: Readonly<RunModel>) {
    return this.k < m.writes.length;
  }
  async step(m: RunModel, r: Real) {
    const write = m.writes[this.k] as KeyedWrite;
    const who = this.variant === 'other tenant' ? (TENANT_OF[write.who] === 'A' ? 'B' : 'A') : write.who;
    const change = (body: EventBody): EventBody =>
      this.variant === 'body changed' ? { ...body, payload: { ...body.payload, changed: true } } : body;
    if (write.kind === 'single') {
      const moved = write.placement === 'metadata' ? 'header' : 'metadata';
      const placement = this.variant === 'key moved' ? moved : write.placement;
      await ingestOne(m, r, who, change(write.body), write.key, placement);
    } else {
      const items = write.items.map((item) =>
        'invalid' in item ? item : { ...item, body: change(item.body) },
      );
      await ingestBulk(m, r, who, items, write.header);
    }
  }
  toString() {
    return `replay(write[${this.k}], ${this.variant})`;
  }
}

class Bulk extends ModelCommand {
  constructor(
    readonly who: Who,
    readonly items: BulkItem[],
    readonly header: string | undefined,
  ) {
    super();
  }
  async step(m: RunModel, r: Real) {
    const keyed = this.header !== undefined || this.items.some((item) => 'ownKey' in item && item.ownKey);
    if (keyed && SCOPES_OF[this.who].includes('events:write')) {
      m.writes.push({ kind: 'bulk', who: this.who, items: this.items, header: this.header });
    }
    await ingestBulk(m, r, this.who, this.items, this.header);
  }
  toString() {
    const items = this.items.map((item) =>
      'invalid' in item
        ? `<${item.invalid}>`
        : `${item.ownKey ? `key ${item.ownKey} ` : ''}${JSON.stringify(item.body)}`,
    );
    return `bulk(${this.who}${this.header ? `, header key ${this.header}` : ''}, [${items.join(', ')}])`;
  }
}

abstract class OneEventCommand extends ModelCommand {
  constructor(
    readonly who: Who,
    readonly ref: Ref,
  ) {
    super();
  }
  override check(m: Readonly<RunModel>) {
    return refExists(m as RunModel, this.ref);
  }
}

/** Notes why a stored event is out of the caller's reach: another tenant's, or expired. */
function tallyHidden(m: RunModel, who: Who, id: string, operation: string): void {
  const stored = m.events.get(id.toLowerCase());
  if (!stored || m.visible(TENANT_OF[who], id)) return;
  tally(
    `${operation} of ${stored.tenant === TENANT_OF[who] ? 'an expired event' : "another tenant's event"}`,
  );
}

class Get extends OneEventCommand {
  async step(m: RunModel, r: Real) {
    const id = resolveRef(m, this.ref);

    const res = await call(r, this.who, 'get', `/v1/events/${id}`);

    if (this.ref === 'malformed') return expectError(res, 400, 'VALIDATION_ERROR');
    if (!allowed(res, this.who, 'events:read')) return;
    tallyHidden(m, this.who, id, 'get');
    const event = m.visible(TENANT_OF[this.who], id);
    if (!event) return expectError(res, 404, 'NOT_FOUND');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...toWire(event), request_id: expect.any(String) });
  }
  toString() {
    return `get(${this.who}, ${showRef(this.ref)})`;
  }
}

class Ack extends OneEventCommand {
  async step(m: RunModel, r: Real) {
    const id = resolveRef(m, this.ref);

    const res = await call(r, this.who, 'post', `/v1/events/${id}/ack`);

    if (this.ref === 'malformed') return expectError(res, 400, 'VALIDATION_ERROR');
    if (!allowed(res, this.who, 'events:ack')) return;
    tallyHidden(m, this.who, id, 'ack');
    const outcome = m.ack(TENANT_OF[this.who], id);
    if (outcome.kind === 'lease_mismatch') throw new Error('an ack without a lease id cannot mismatch');
    if (outcome.kind === 'not_found') return expectError(res, 404, 'NOT_FOUND');
    if (outcome.kind === 'conflict') return expectConflict(res, outcome);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      event_id: id.toLowerCase(),
      status: 'acknowledged',
      acknowledged_at: iso(outcome.acknowledgedAt),
      request_id: expect.any(String),
    });
  }
  toString() {
    return `ack(${this.who}, ${showRef(this.ref)})`;
  }
}

class Delete extends OneEventCommand {
  async step(m: RunModel, r: Real) {
    const id = resolveRef(m, this.ref);

    const res = await call(r, this.who, 'delete', `/v1/events/${id}`);

    if (this.ref === 'malformed') return expectError(res, 400, 'VALIDATION_ERROR');
    if (!allowed(res, this.who, 'events:ack')) return;
    // 204 whatever the event; another tenant's stays as it was (later steps read it).
    tallyHidden(m, this.who, id, 'delete');
    expect(res.status).toBe(204);
    m.delete(TENANT_OF[this.who], id);
  }
  toString() {
    return `delete(${this.who}, ${showRef(this.ref)})`;
  }
}

class BulkAck extends ModelCommand {
  constructor(
    readonly who: Who,
    readonly refs: Ref[],
  ) {
    super();
  }
  override check(m: Readonly<RunModel>) {
    return this.refs.every((ref) => refExists(m as RunModel, ref));
  }
  async step(m: RunModel, r: Real) {
    const ids = this.refs.map((ref) => resolveRef(m, ref));

    const res = await call(r, this.who, 'post', '/v1/events/bulk/ack', { body: { event_ids: ids } });

    if (!allowed(res, this.who, 'events:ack')) return;
    const successful: unknown[] = [];
    const failed: unknown[] = [];
    // One by one, as single acks would: an id given twice gets a 409 the second time.
    for (const id of ids) {
      const outcome = m.ack(TENANT_OF[this.who], id);
      tally(`bulk ack item: ${outcome.kind}`);
      if (outcome.kind === 'acked') {
        successful.push({ event_id: id.toLowerCase(), acknowledged_at: iso(outcome.acknowledgedAt) });
      } else if (outcome.kind === 'not_found') {
        failed.push({ event_id: id, error: { code: 'NOT_FOUND', message: expect.any(String), details: {} } });
      } else if (outcome.kind === 'conflict') {
        failed.push({
          event_id: id,
          error: { code: 'CONFLICT', message: expect.any(String), details: conflictDetails(outcome) },
        });
      } else {
        throw new Error('an ack without a lease id cannot mismatch');
      }
    }
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ successful, failed, request_id: expect.any(String) });
  }
  toString() {
    return `bulkAck(${this.who}, [${this.refs.map(showRef).join(', ')}])`;
  }
}

/** Inbox filters as generated: times are offsets from the clock when the command runs. */
interface FilterSpec {
  source?: string;
  event_type?: string;
  priority?: Priority;
  /** created_after = now - afterMs */
  afterMs?: number;
  /** created_before = now + beforeMs */
  beforeMs?: number;
}

class FirstPage extends ModelCommand {
  constructor(
    readonly who: Who,
    readonly limit: number,
    readonly filters: FilterSpec,
  ) {
    super();
  }
  async step(m: RunModel, r: Real) {
    const { afterMs, beforeMs, ...names } = this.filters;
    const filters: InboxFilters = {
      ...names,
      created_after: afterMs === undefined ? undefined : iso(m.now - afterMs),
      created_before: beforeMs === undefined ? undefined : iso(m.now + beforeMs),
    };
    await readPage(m, r, this.who, filters, this.limit);
  }
  toString() {
    const { afterMs, beforeMs, ...names } = this.filters;
    const parts = [
      `limit ${this.limit}`,
      ...Object.entries(names).map(([k, v]) => `${k} ${v}`),
      ...(afterMs === undefined ? [] : [`created_after now-${afterMs}ms`]),
      ...(beforeMs === undefined ? [] : [`created_before now${beforeMs < 0 ? '' : '+'}${beforeMs}ms`]),
    ];
    return `inbox(${this.who}, ${parts.join(', ')})`;
  }
}

/** Who reads the next page: the cursor's own tenant, A's read-only key, or the other tenant. */
type Reader = 'owner' | 'A-read' | 'other tenant';

/** Reads the page after `cursor[k]` (an earlier cursor of the run, reused as often as drawn). */
class NextPage extends ModelCommand {
  constructor(
    readonly reader: Reader,
    readonly k: number,
    readonly limit: number,
    readonly otherFilters: boolean,
  ) {
    super();
  }
  override check(m: Readonly<RunModel>) {
    return this.k >= 0 ? this.k < m.cursors.length : -this.k <= m.cursors.length;
  }
  async step(m: RunModel, r: Real) {
    const cursor = m.cursors.at(this.k) as ModelCursor;
    const filters = this.otherFilters
      ? { ...cursor.filters, priority: cursor.filters.priority === undefined ? ('high' as const) : undefined }
      : cursor.filters;
    const other = cursor.tenant === 'A' ? 'B' : 'A';
    const who = this.reader === 'owner' ? cursor.tenant : this.reader === 'A-read' ? 'A-read' : other;
    await readPage(m, r, who, filters, this.limit, cursor);
  }
  toString() {
    return `nextPage(${this.reader}, cursor[${this.k}], limit ${this.limit}${this.otherFilters ? ', other filters' : ''})`;
  }
}

class Lease extends ModelCommand {
  constructor(
    readonly who: Who,
    readonly limit: number,
    readonly timeoutS: number,
    readonly filters: LeaseFilters,
  ) {
    super();
  }
  async step(m: RunModel, r: Real) {
    const res = await call(r, this.who, 'post', '/v1/inbox/lease', {
      body: { limit: this.limit, visibility_timeout: this.timeoutS, ...this.filters },
    });

    // Leasing needs events:read and events:ack.
    if (!SCOPES_OF[this.who].includes('events:ack')) return expectError(res, 403, 'FORBIDDEN');
    const tenant = TENANT_OF[this.who];
    const deadBefore = [...m.events.values()].filter((e) => e.status === 'dead').length;
    const expected = m.lease(tenant, this.filters, this.limit);
    const deadAfter = [...m.events.values()].filter((e) => e.status === 'dead').length;
    if (deadAfter > deadBefore) tally('lease that made an event dead');
    tally(
      expected.length === 0
        ? 'lease of nothing'
        : `lease of ${expected.length < this.limit ? 'fewer than asked' : 'as many as asked'}`,
    );
    expect(res.status).toBe(200);
    const answered = res.body.events as Array<{ event_id: string; lease: { lease_id: string } }>;
    expect(answered.map((e) => e.event_id)).toEqual(expected.map((e) => e.eventId));
    const leaseIds = new Set(m.leases.map((l) => l.leaseId));
    const events = expected.map((event, index) => {
      const leaseId = (answered[index] as { lease: { lease_id: string } }).lease.lease_id;
      expect(leaseIds.has(leaseId)).toBe(false);
      if (event.deliveryCount > 0) tally('lease of an event leased before');
      m.leased(event, leaseId, this.timeoutS * 1000);
      m.leases.push({ tenant, eventId: event.eventId, leaseId });
      return {
        ...toWire(event),
        lease: { lease_id: leaseId, leased_until: iso(event.leasedUntil as number) },
      };
    });
    expect(res.body).toEqual({ events, request_id: expect.any(String) });
  }
  toString() {
    const filters = Object.entries(this.filters).map(([k, v]) => `, ${k} ${v}`);
    return `lease(${this.who}, limit ${this.limit}, ${this.timeoutS} s${filters.join('')})`;
  }
}

type LeaseUse = { op: 'ack' } | { op: 'nack'; delayS: number } | { op: 'extend'; timeoutS: number };

/** Acks, nacks or extends with `lease[k]`: the event's latest lease, or a stale one by now. */
class UseLease extends ModelCommand {
  constructor(
    readonly k: number,
    readonly use: LeaseUse,
    readonly asOtherTenant: boolean,
  ) {
    super();
  }
  override check(m: Readonly<RunModel>) {
    return this.k >= 0 ? this.k < m.leases.length : -this.k <= m.leases.length;
  }
  async step(m: RunModel, r: Real) {
    const lease = m.leases.at(this.k) as GrantedLease;
    const tenant: Tenant = this.asOtherTenant ? (lease.tenant === 'A' ? 'B' : 'A') : lease.tenant;
    const who: Who = tenant;
    const path = `/v1/events/${lease.eventId}/${this.use.op}`;
    const stale = m.events.get(lease.eventId)?.leaseId !== lease.leaseId;
    const body =
      this.use.op === 'ack'
        ? { lease_id: lease.leaseId }
        : this.use.op === 'nack'
          ? { lease_id: lease.leaseId, delay: this.use.delayS }
          : { lease_id: lease.leaseId, visibility_timeout: this.use.timeoutS };

    const res = await call(r, who, 'post', path, { body });

    const use = this.use;
    const outcome =
      use.op === 'ack'
        ? m.ack(tenant, lease.eventId, lease.leaseId)
        : use.op === 'nack'
          ? m.nack(tenant, lease.eventId, lease.leaseId, use.delayS * 1000)
          : m.extend(tenant, lease.eventId, lease.leaseId, use.timeoutS * 1000);
    tally(`${use.op} with ${stale ? 'a stale' : 'the latest'} lease: ${outcome.kind}`);
    if (outcome.kind === 'nacked' && outcome.status === 'dead') tally('nack that made an event dead');
    switch (outcome.kind) {
      case 'not_found':
        return expectError(res, 404, 'NOT_FOUND');
      case 'conflict':
        return expectConflict(res, outcome);
      case 'lease_mismatch':
        return expectLeaseConflict(res, { reason: 'lease_mismatch' });
      case 'lease_too_long':
        return expectLeaseConflict(res, {
          reason: 'lease_too_long',
          max_leased_until: iso(outcome.maxLeasedUntil),
        });
      case 'acked':
        expect(res.status).toBe(200);
        return expect(res.body).toEqual({
          event_id: lease.eventId,
          status: 'acknowledged',
          acknowledged_at: iso(outcome.acknowledgedAt),
          request_id: expect.any(String),
        });
      case 'nacked':
        expect(res.status).toBe(200);
        return expect(res.body).toEqual({
          event_id: lease.eventId,
          status: outcome.status,
          delivery_count: outcome.deliveryCount,
          visible_at: outcome.visibleAt === null ? null : iso(outcome.visibleAt),
          request_id: expect.any(String),
        });
      case 'extended':
        expect(res.status).toBe(200);
        return expect(res.body).toEqual({
          event_id: lease.eventId,
          leased_until: iso(outcome.leasedUntil),
          request_id: expect.any(String),
        });
    }
  }
  toString() {
    const extra =
      this.use.op === 'nack'
        ? `, delay ${this.use.delayS} s`
        : this.use.op === 'extend'
          ? `, ${this.use.timeoutS} s`
          : '';
    return `${this.use.op}(lease[${this.k}]${extra}${this.asOtherTenant ? ', as the other tenant' : ''})`;
  }
}

class Redeliver extends OneEventCommand {
  async step(m: RunModel, r: Real) {
    const id = resolveRef(m, this.ref);

    const res = await call(r, this.who, 'post', `/v1/events/${id}/redeliver`);

    if (this.ref === 'malformed') return expectError(res, 400, 'VALIDATION_ERROR');
    if (!allowed(res, this.who, 'events:ack')) return;
    tallyHidden(m, this.who, id, 'redeliver');
    const outcome = m.redeliver(TENANT_OF[this.who], id);
    tally(`redeliver: ${outcome.kind === 'conflict' ? 'pending already' : outcome.kind}`);
    if (outcome.kind === 'not_found') return expectError(res, 404, 'NOT_FOUND');
    if (outcome.kind === 'conflict') return expectConflict(res, outcome);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      event_id: id.toLowerCase(),
      status: 'pending',
      request_id: expect.any(String),
    });
  }
  toString() {
    return `redeliver(${this.who}, ${showRef(this.ref)})`;
  }
}

/** Redelivers the event of `lease[k]`, as its owner: often acknowledged or dead by then. */
class RedeliverLeased extends ModelCommand {
  constructor(readonly k: number) {
    super();
  }
  override check(m: Readonly<RunModel>) {
    return this.k >= 0 ? this.k < m.leases.length : -this.k <= m.leases.length;
  }
  async step(m: RunModel, r: Real) {
    const lease = m.leases.at(this.k) as GrantedLease;
    await new Redeliver(lease.tenant, { k: m.issued.indexOf(lease.eventId), upper: false }).step(m, r);
  }
  toString() {
    return `redeliver(event of lease[${this.k}])`;
  }
}

/** The first page of GET /v1/events: every status, in either order. */
class ListEvents extends ModelCommand {
  constructor(
    readonly who: Who,
    readonly order: 'asc' | 'desc' | undefined,
    readonly filters: ListFilters,
    readonly limit: number,
  ) {
    super();
  }
  async step(m: RunModel, r: Real) {
    const res = await call(r, this.who, 'get', '/v1/events', {
      query: { order: this.order, limit: this.limit, ...this.filters },
    });

    const expected = m.list(TENANT_OF[this.who], this.filters, this.order ?? 'desc', this.limit);
    if (this.filters.status === 'dead' && expected.events.length > 0) tally('dead letters listed');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      events: expected.events.map(toWire),
      pagination: {
        limit: this.limit,
        has_more: expected.hasMore,
        next_cursor: expected.hasMore ? expect.any(String) : null,
      },
      request_id: expect.any(String),
    });
  }
  toString() {
    const filters = Object.entries(this.filters).map(([k, v]) => `, ${k} ${v}`);
    return `listEvents(${this.who}, ${this.order ?? 'default order'}, limit ${this.limit}${filters.join('')})`;
  }
}

class Tick extends ModelCommand {
  constructor(readonly ms: number) {
    super();
  }
  async step(m: RunModel) {
    if (this.ms >= HOUR_MS) tally('clock jump of a day or more');
    t.clock.advance(this.ms);
    m.now += this.ms;
  }
  toString() {
    return this.ms >= HOUR_MS
      ? `tick(${this.ms / HOUR_MS} h)`
      : this.ms >= 1000
        ? `tick(${this.ms / 1000} s)`
        : `tick(${this.ms} ms)`;
  }
}

// ---------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------

/** `arb` one time in `1 + rest`, else undefined. */
function sometimes<T>(arb: fc.Arbitrary<T>, rest = 3): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: rest, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

const who = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Who>('A') },
  { weight: 2, arbitrary: fc.constant<Who>('B') },
  { weight: 1, arbitrary: fc.constant<Who>('A-read') },
);
const priority = fc.constantFrom<Priority>('low', 'normal', 'high');
const payload = fc.record(
  {
    n: fc.nat({ max: 3 }),
    f: fc.double({ noNaN: true, noDefaultInfinity: true }),
    s: fc.string({ unit: 'grapheme', maxLength: 6 }),
    list: fc.array(fc.integer(), { maxLength: 3 }),
  },
  { requiredKeys: ['n'], noNullPrototype: true },
);
const body: fc.Arbitrary<EventBody> = fc.record(
  {
    // ' billing ' is stored (and filtered) as 'billing'.
    source: fc.constantFrom('billing', ' billing ', 'crm'),
    event_type: fc.constantFrom('order.created', 'order.paid'),
    payload,
    metadata: fc.record(
      { priority, correlation_id: fc.constantFrom('corr-1', 'corr-2') },
      { requiredKeys: [], noNullPrototype: true },
    ),
  },
  { requiredKeys: ['source', 'event_type', 'payload'], noNullPrototype: true },
);
const placement = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Placement>('header') },
  { weight: 3, arbitrary: fc.constant<Placement>('metadata') },
  { weight: 1, arbitrary: fc.constant<Placement>('both') },
  { weight: 1, arbitrary: fc.constant<Placement>('conflict') },
);
// 'h1:0' is also what item 0 of a bulk request with header key h1 uses.
const singleKey = sometimes(fc.constantFrom('k1', 'k2', 'k3', 'h1:0'), 1);
const bulkItem: fc.Arbitrary<BulkItem> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      { body, ownKey: sometimes(fc.constantFrom('k1', 'k2', 'k3'), 2) },
      { noNullPrototype: true },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { invalid: fc.constantFrom(...(Object.keys(INVALID_ITEMS) as Array<keyof typeof INVALID_ITEMS>)) },
      { noNullPrototype: true },
    ),
  },
);
const ref: fc.Arbitrary<Ref> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record(
      { k: fc.integer({ min: -4, max: 8 }), upper: fc.constant(false) },
      { noNullPrototype: true },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { k: fc.integer({ min: -4, max: 8 }), upper: fc.constant(true) },
      { noNullPrototype: true },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<Ref>('unknown', 'malformed') },
);
const filters: fc.Arbitrary<FilterSpec> = fc
  .record(
    {
      source: sometimes(fc.constantFrom('billing', 'crm'), 5),
      event_type: sometimes(fc.constantFrom('order.created', 'order.paid'), 5),
      priority: sometimes(priority, 5),
      afterMs: sometimes(fc.nat({ max: 6 }), 7),
      beforeMs: sometimes(fc.integer({ min: -2, max: 1 }), 7),
    },
    { noNullPrototype: true },
  )
  .map((spec) => Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as FilterSpec);
// Small pages, so that runs of a few dozen events page, and reuse cursors, often.
const limit = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 2 }) },
  fc.integer({ min: 3, max: 5 }),
);

const ingestCommand = fc.tuple(who, body, singleKey, placement).map((a) => new Ingest(...a));
const replayCommand = fc
  .tuple(
    fc.nat({ max: 5 }),
    fc.constantFrom<ReplayVariant>('same', 'key moved', 'body changed', 'other tenant'),
  )
  .map((a) => new Replay(...a));
const bulkCommand = fc
  .tuple(
    who,
    fc.array(bulkItem, { minLength: 1, maxLength: 5 }),
    sometimes(fc.constantFrom('h1', 'h2'), 1),
    fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  )
  // Sometimes the first item once more at the end: a key given twice in one request.
  .map(
    ([who, items, header, again]) => new Bulk(who, again ? [...items, ...items.slice(0, 1)] : items, header),
  );
const getCommand = fc.tuple(who, ref).map((a) => new Get(...a));
const ackCommand = fc.tuple(who, ref).map((a) => new Ack(...a));
const bulkAckCommand = fc
  .tuple(who, fc.array(ref, { minLength: 1, maxLength: 6 }))
  .map((a) => new BulkAck(...a));
const deleteCommand = fc.tuple(who, ref).map((a) => new Delete(...a));
const firstPageCommand = fc.tuple(who, limit, filters).map((a) => new FirstPage(...a));
const nextPageCommand = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constant<Reader>('owner') },
      { weight: 1, arbitrary: fc.constantFrom<Reader>('A-read', 'other tenant') },
    ),
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(-1, -2) }, fc.integer({ min: 0, max: 4 })),
    limit,
    fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  )
  .map((a) => new NextPage(...a));
const tickCommand = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom(1, 2) },
    // Past visibility timeouts (1, 5 and 60 s) and nack delays, or onto them exactly.
    { weight: 6, arbitrary: fc.constantFrom(1_000, 5_000, 60_000) },
    // Past the 24 h of idempotency keys, or the 7 days of events; no sum of these steps
    // lands exactly on either boundary.
    { weight: 1, arbitrary: fc.constantFrom(25 * HOUR_MS, 48 * HOUR_MS, 192 * HOUR_MS) },
  )
  .map((ms) => new Tick(ms));
const leaseCommand = fc
  .tuple(
    who,
    fc.integer({ min: 1, max: 5 }),
    fc.constantFrom(1, 1, 5, 60),
    fc
      .record(
        {
          source: sometimes(fc.constantFrom('billing', 'crm'), 6),
          event_type: sometimes(fc.constantFrom('order.created', 'order.paid'), 6),
          priority: sometimes(priority, 6),
        },
        { noNullPrototype: true },
      )
      .map(
        (spec) => Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as LeaseFilters,
      ),
  )
  .map((a) => new Lease(...a));
const useLeaseCommand = fc
  .tuple(
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(-1, -2) }, fc.integer({ min: 0, max: 5 })),
    fc.oneof(
      { weight: 3, arbitrary: fc.constant<LeaseUse>({ op: 'ack' }) },
      {
        weight: 3,
        arbitrary: fc.constantFrom(0, 0, 1, 5).map((delayS): LeaseUse => ({ op: 'nack', delayS })),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom(1, 5, 43_200).map((timeoutS): LeaseUse => ({ op: 'extend', timeoutS })),
      },
    ),
    fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  )
  .map((a) => new UseLease(...a));
const redeliverCommand = fc.tuple(who, ref).map((a) => new Redeliver(...a));
const listEventsCommand = fc
  .tuple(
    who,
    fc.constantFrom<'asc' | 'desc' | undefined>('asc', 'desc', undefined),
    fc
      .record(
        {
          status: sometimes(fc.constantFrom<Status>('pending', 'acknowledged', 'dead'), 2),
          source: sometimes(fc.constantFrom('billing', 'crm'), 6),
          event_type: sometimes(fc.constantFrom('order.created', 'order.paid'), 6),
        },
        { noNullPrototype: true },
      )
      .map(
        (spec) => Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as ListFilters,
      ),
    limit,
  )
  .map((a) => new ListEvents(...a));

const command = fc.oneof(
  { weight: 6, arbitrary: ingestCommand },
  { weight: 3, arbitrary: replayCommand },
  { weight: 2, arbitrary: bulkCommand },
  { weight: 2, arbitrary: getCommand },
  { weight: 3, arbitrary: ackCommand },
  { weight: 1, arbitrary: bulkAckCommand },
  { weight: 1, arbitrary: deleteCommand },
  { weight: 3, arbitrary: firstPageCommand },
  { weight: 5, arbitrary: nextPageCommand },
  { weight: 4, arbitrary: tickCommand },
  { weight: 6, arbitrary: leaseCommand },
  { weight: 7, arbitrary: useLeaseCommand },
  { weight: 2, arbitrary: redeliverCommand },
  { weight: 1, arbitrary: listEventsCommand },
);

/**
 * Many workers on one inbox: mostly leases and what is done with them, with clock jumps of
 * the size of visibility timeouts, so that leases run out, events come back and use up their
 * deliveries (dead letters), and redeliveries bring them back.
 */
const workerCommand = fc.oneof(
  { weight: 3, arbitrary: ingestCommand },
  { weight: 1, arbitrary: getCommand },
  { weight: 1, arbitrary: ackCommand },
  { weight: 1, arbitrary: firstPageCommand },
  { weight: 6, arbitrary: leaseCommand },
  { weight: 4, arbitrary: useLeaseCommand },
  { weight: 2, arbitrary: redeliverCommand },
  {
    weight: 2,
    arbitrary: fc
      .oneof({ weight: 3, arbitrary: fc.constantFrom(-1, -2, -3) }, fc.integer({ min: 0, max: 5 }))
      .map((k) => new RedeliverLeased(k)),
  },
  { weight: 2, arbitrary: listEventsCommand },
  { weight: 7, arbitrary: fc.constantFrom(1_000, 5_000, 60_000).map((ms) => new Tick(ms)) },
);

// ---------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------

beforeAll(async () => {
  t = await createTestApp({ maxDeliveries: MAX_DELIVERIES });
  server = http.createServer(t.app);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  console.log(
    `model test on ${TEST_STORE}: seed ${SEED}, ${NUM_RUNS} runs of up to ${MAX_COMMANDS} commands`,
  );
});

afterAll(async () => {
  console.log(
    `model test on ${TEST_STORE}: ${executed} commands executed (${httpRequests} HTTP requests) in ${runs} runs, seed ${SEED}`,
    '\ncommands:',
    Object.fromEntries([...executedByKind].sort()),
    '\nanswers:',
    Object.fromEntries([...answersSeen].sort()),
    '\ncases:',
    Object.fromEntries([...casesSeen].sort()),
  );
  server.closeAllConnections();
  await new Promise<void>((done) => server.close(() => done()));
  await t.close();
});

/** A fresh pair of tenants and their keys for each run: what one run wrote is invisible to the next. */
async function setupRun() {
  runs += 1;
  const a = `model-${runs}-a`;
  const keys: Record<Who, string> = {
    A: await t.createKey({ tenant: a }),
    B: await t.createKey({ tenant: `model-${runs}-b` }),
    'A-read': await t.createKey({ tenant: a, scopes: ['events:read'] }),
  };
  return { model: new RunModel(t.clock.now), real: { keys } };
}

async function checkRuns(commands: fc.Arbitrary<fc.AsyncCommand<RunModel, Real>>, numRuns: number) {
  const before = { runs, httpRequests };
  await fc.assert(
    fc.asyncProperty(fc.commands([commands], { maxCommands: MAX_COMMANDS, size: 'max' }), (sequence) =>
      fc.asyncModelRun(setupRun, sequence),
    ),
    { seed: SEED, numRuns },
  );
  // Not vacuous: commands whose references did not exist yet were skipped, not all of them.
  expect(httpRequests - before.httpRequests).toBeGreaterThan(runs - before.runs);
}

describe('The API against its model', () => {
  it(
    'answers every random sequence of ingest, replay, bulk, get, ack, bulk ack, delete, inbox paging, leases, nack, extend, redelivery, the event list and clock jumps as the model does, for two tenants',
    () => checkRuns(command, NUM_RUNS),
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'answers every random sequence of many workers leasing, acking, nacking and extending while leases run out, events die and come back, as the model does',
    async () => {
      await checkRuns(workerCommand, NUM_RUNS);
      // The runs reach what they are for (counted over the whole file).
      for (const reached of [
        'lease that made an event dead',
        'lease of an event leased before',
        'redeliver: redelivered',
      ]) {
        expect(casesSeen.get(reached) ?? 0).toBeGreaterThan(0);
      }
    },
    PROPERTY_TIMEOUT_MS,
  );
});
