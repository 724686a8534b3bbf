import request from 'supertest';
import { checked } from '../helpers/contract';
import { createTestApp, DEV_KEY, type TestApp } from '../helpers/test-app';

const item = (n: number, extra: object = {}) => ({
  source: 'billing',
  event_type: 'order.created',
  payload: { n },
  ...extra,
});

describe('POST /v1/events/bulk', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const bulk = (items: unknown, status: number, headerKey?: string) => {
    const req = request(t.app).post('/v1/events/bulk').set('X-API-Key', DEV_KEY);
    if (headerKey) req.set('Idempotency-Key', headerKey);
    return checked(req.send({ items }), status);
  };
  const pendingCount = () => t.countEvents();

  it('stores good items and fails bad ones alone, each with its index and error', async () => {
    // Act
    const res = await bulk(
      [
        item(0),
        item(1, { event_type: '' }),
        item(2, { payload: { big: 'x'.repeat(409_600) } }),
        item(3, { extra: 1 }),
        item(4, { metadata: { priority: 'high' } }),
      ],
      200,
    );

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.successful.map((s: { index: number }) => s.index)).toEqual([0, 4]);
    expect(
      res.body.failed.map((f: { index: number; error: { code: string } }) => [f.index, f.error.code]),
    ).toEqual([
      [1, 'VALIDATION_ERROR'],
      [2, 'PAYLOAD_TOO_LARGE'],
      [3, 'VALIDATION_ERROR'],
    ]);
    expect(res.body.failed[0].error.details.errors[0].path).toBe('/items/1/event_type');
    expect(res.body.failed[2].error.details.errors[0].path).toBe('/items/3/extra');
    expect(await pendingCount()).toBe(2);
  });

  it('checks items just the same when the item schema is compiled on first use (a Lambda made on demand)', async () => {
    await t.close();
    t = await createTestApp({ compileValidatorsAtStart: false });

    const res = await bulk([item(0, { extra: 1 }), item(1), item(2, { event_type: '' })], 200);

    expect(res.body.successful.map((s: { index: number }) => s.index)).toEqual([1]);
    expect(
      res.body.failed.map((f: { index: number; error: { details: { errors: Array<{ path: string }> } } }) => [
        f.index,
        f.error.details.errors[0]?.path,
      ]),
    ).toEqual([
      [0, '/items/0/extra'],
      [2, '/items/2/event_type'],
    ]);
  });

  it('honours each item idempotency key: replays, and 422 for another body, item by item', async () => {
    const first = await bulk([item(0, { metadata: { idempotency_key: 'a' } })], 200);
    const res = await bulk(
      [
        item(0, { metadata: { idempotency_key: 'a' } }),
        item(1, { metadata: { idempotency_key: 'a' } }),
        item(2, { metadata: { idempotency_key: 'b' } }),
      ],
      200,
    );
    expect(res.body.successful).toEqual([
      expect.objectContaining({ index: 0, event_id: first.body.successful[0].event_id, replayed: true }),
      expect.objectContaining({ index: 2, replayed: false }),
    ]);
    expect(res.body.failed).toEqual([
      expect.objectContaining({
        index: 1,
        error: expect.objectContaining({ code: 'IDEMPOTENCY_KEY_REUSED' }),
      }),
    ]);
    expect(await pendingCount()).toBe(2);
  });

  it('gives a key shared by two items of one request to the first item, every time, on every store', async () => {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      // Act
      const key = `shared-${attempt}`;
      const res = await bulk(
        [
          item(0, { event_type: 'first', metadata: { idempotency_key: key } }),
          item(1, { event_type: 'second', metadata: { idempotency_key: key } }),
        ],
        200,
      );

      // Assess
      expect(res.body.successful.map((s: { index: number }) => s.index)).toEqual([0]);
      expect(
        res.body.failed.map((f: { index: number; error: { code: string } }) => [f.index, f.error.code]),
      ).toEqual([[1, 'IDEMPOTENCY_KEY_REUSED']]);
    }
    expect(await pendingCount()).toBe(10);
  });

  it('makes a whole retried request safe with the Idempotency-Key header', async () => {
    const items = [item(0), item(1), item(2)];
    const first = await bulk(items, 200, 'batch-1');
    const retry = await bulk(items, 200, 'batch-1');
    expect(retry.body.successful.map((s: { event_id: string }) => s.event_id)).toEqual(
      first.body.successful.map((s: { event_id: string }) => s.event_id),
    );
    expect(retry.body.successful.every((s: { replayed: boolean }) => s.replayed)).toBe(true);
    expect(await pendingCount()).toBe(3);
  });

  it('fails only the item whose payload is nested deeper than 64 levels; 64 is accepted', async () => {
    const nest = (levels: number) => {
      let payload: Record<string, unknown> = {};
      for (let i = 1; i < levels; i += 1) payload = { child: payload };
      return payload;
    };
    const res = await bulk([item(0, { payload: nest(64) }), item(1, { payload: nest(65) })], 200);
    expect(res.body.successful.map((s: { index: number }) => s.index)).toEqual([0]);
    expect(res.body.failed[0].error.details.errors[0].path).toBe('/items/1/payload');
  });

  it('accepts 100 items', async () => {
    const res = await bulk(
      Array.from({ length: 100 }, (_, i) => item(i)),
      200,
    );
    expect(res.body.successful).toHaveLength(100);
    expect(await pendingCount()).toBe(100);
  });

  it.each([
    ['no items', []],
    ['101 items', Array.from({ length: 101 }, (_, i) => item(i))],
    ['an item that is not an object', [item(0), 'nope']],
    ['items that is not an array', { 0: item(0) }],
  ])('rejects the whole request with 400 for %s, writing nothing', async (_name, items) => {
    const res = await bulk(items, 400);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(await pendingCount()).toBe(0);
  });

  it('answers 413 for a bulk body over 5 MiB', async () => {
    const big = Array.from({ length: 14 }, (_, i) => item(i, { payload: { blob: 'x'.repeat(400_000) } }));
    const res = await bulk(big, 413);
    expect(res.status).toBe(413);
    expect(res.body.error.details.limit_bytes).toBe(5 * 1024 * 1024);
  });

  it('accepts a bulk body over 1 MiB', async () => {
    const items = Array.from({ length: 4 }, (_, i) => item(i, { payload: { blob: 'y'.repeat(400_000) } }));
    const res = await bulk(items, 200);
    expect(res.status).toBe(200);
    expect(res.body.successful).toHaveLength(4);
  });
});
