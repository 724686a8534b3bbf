import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { createTriggersClient, type TriggersClient } from '../../sdk/src/index';
import { CLI_BIN, ensureCliBuilt, killCli, type RunningCli, runCli, startCli } from '../helpers/cli-process';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

// The `triggers` binary as a user runs it: `node cli/bin/triggers.js` in a process of its own,
// its stdout and stderr piped, against the real app listening on a real socket. The app runs
// in this process (createTestApp) so that a test can move the server's clock (a nack delay)
// instead of sleeping; the CLI's long polls are woken by the app itself when an event arrives.

// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is the point.
const ANSI = /\u001b\[/;
const WAIT_MS = 15_000;

describe('the triggers CLI', () => {
  let t: TestApp;
  let server: http.Server;
  let baseUrl: string;
  const running: RunningCli[] = [];
  const receivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    ensureCliBuilt();
    // Waiting leases ask the store every 50 ms: a nack delay ended by moving the clock is seen at once.
    t = await createTestApp({ longPollIntervalMs: 50 });
    server = http.createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const cli of running.splice(0)) await killCli(cli);
    for (const receiver of receivers.splice(0)) await receiver.close();
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  /** A tenant of its own for each test (an inbox nobody else leases from), and its key. */
  async function tenant(): Promise<{
    env: Record<string, string>;
    api: TriggersClient;
    key: string;
    tenantId: string;
  }> {
    const tenantId = `cli-${randomUUID()}`;
    const key = await t.createKey({
      tenant: tenantId,
      scopes: ['events:write', 'events:read', 'events:ack', 'subscriptions:manage'],
    });
    return {
      key,
      tenantId,
      env: { TRIGGERS_API_URL: baseUrl, TRIGGERS_API_KEY: key },
      api: createTriggersClient({ baseUrl, apiKey: key, timeoutMs: 10_000 }),
    };
  }

  function start(args: string[], env: Record<string, string>): RunningCli {
    const cli = startCli(args, env);
    running.push(cli);
    return cli;
  }

  async function receiver(): Promise<WebhookReceiver> {
    const started = await startReceiver('/webhooks');
    receivers.push(started);
    return started;
  }

  it('sends an event and shows it with get, as text and as JSON', async () => {
    // Prepare
    const { env } = await tenant();
    const file = path.join(path.dirname(t.file), 'payload.json');
    writeFileSync(file, JSON.stringify({ order_id: 'ord_7', total: 12.5 }));

    // Act
    const sent = await runCli(
      ['send', '--source', 'shop', '--type', 'order.created', '--data', `@${file}`],
      env,
    );
    const eventId = /Created ([0-9a-f-]{36}) pending/.exec(sent.stdout)?.[1] as string;
    const shown = await runCli(['get', eventId], env);
    const asJson = await runCli(['get', eventId, '--json'], env);

    // Assess
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    expect(eventId).toBeDefined();
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    expect(shown.stdout).toMatch(new RegExp(`^event_id +${eventId}$`, 'm'));
    expect(shown.stdout).toMatch(/^status +pending$/m);
    expect(shown.stdout).toMatch(/^event_type +order\.created$/m);
    expect(shown.stdout).toContain('"total": 12.5');
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({
      event_id: eventId,
      source: 'shop',
      event_type: 'order.created',
      payload: { order_id: 'ord_7', total: 12.5 },
      status: 'pending',
    });
  });

  it('sends with --json and --idempotency-key, and a repeat is a replay of the same event', async () => {
    // Prepare
    const { env } = await tenant();
    const args = ['send', '--source', 'shop', '--type', 'order.paid', '--data', '{"n":1}'];

    // Act
    const first = await runCli([...args, '--idempotency-key', 'order-1', '--json'], env);
    const again = await runCli([...args, '--idempotency-key', 'order-1', '--json'], env);
    const text = await runCli([...args, '--idempotency-key', 'order-1'], env);

    // Assess
    expect(first.code).toBe(0);
    const created = JSON.parse(first.stdout);
    expect(created).toMatchObject({ status: 'pending', replayed: false });
    expect(JSON.parse(again.stdout)).toMatchObject({ event_id: created.event_id, replayed: true });
    expect(text.stdout).toContain(`Replayed (sent before with this idempotency key) ${created.event_id}`);
  });

  it('lists events as a table, filtered, limited and ordered, and as a JSON array', async () => {
    // Prepare
    const { env, api } = await tenant();
    const ids: string[] = [];
    for (const [source, type] of [
      ['shop', 'order.created'],
      ['crm', 'contact.added'],
      ['shop', 'order.paid'],
    ] as const) {
      t.clock.advance(1_000);
      ids.push((await api.events.create({ source, event_type: type, payload: { type } })).event_id);
    }

    // Act
    const table = await runCli(['list'], env);
    const shop = await runCli(['list', '--source', 'shop', '--order', 'asc', '--json'], env);
    const oneType = await runCli(['list', '--type', 'contact.added', '--status', 'pending', '--json'], env);
    const limited = await runCli(['list', '--limit', '1', '--json'], env);
    const acked = await runCli(['list', '--status', 'acknowledged'], env);

    // Assess
    expect(table).toMatchObject({ code: 0, stderr: '' });
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^EVENT ID +CREATED +STATUS +SOURCE +TYPE +DELIVERIES +PAYLOAD$/);
    expect(rows.map((row) => row.split(/ +/)[0])).toEqual([...ids].reverse());
    expect(rows[0]).toMatch(/ pending +shop +order\.paid +0 +\{"type":"order\.paid"\}$/);
    expect(JSON.parse(shop.stdout).map((event: { event_id: string }) => event.event_id)).toEqual([
      ids[0],
      ids[2],
    ]);
    expect(JSON.parse(oneType.stdout)).toEqual([expect.objectContaining({ event_id: ids[1] })]);
    expect(JSON.parse(limited.stdout)).toEqual([expect.objectContaining({ event_id: ids[2] })]);
    expect(acked).toMatchObject({ code: 0, stdout: 'No events.\n' });
  });

  it('acks an event, then redelivers it, as text and as JSON', async () => {
    // Prepare
    const { env, api } = await tenant();
    const first = await api.events.create({ source: 'shop', event_type: 'order.created', payload: {} });
    const second = await api.events.create({ source: 'shop', event_type: 'order.created', payload: {} });

    // Act
    const acked = await runCli(['ack', first.event_id], env);
    const ackedJson = await runCli(['ack', second.event_id, '--json'], env);
    const again = await runCli(['ack', first.event_id], env);
    const redelivered = await runCli(['redeliver', first.event_id], env);
    const redeliveredJson = await runCli(['redeliver', second.event_id, '--json'], env);

    // Assess
    expect(acked).toMatchObject({ code: 0, stderr: '' });
    expect(acked.stdout).toMatch(new RegExp(`^Acknowledged ${first.event_id} at \\d{4}-\\d\\d-\\d\\dT`));
    expect(JSON.parse(ackedJson.stdout)).toMatchObject({ event_id: second.event_id, status: 'acknowledged' });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error CONFLICT: /);
    expect(redelivered).toMatchObject({ code: 0, stdout: `Redelivered ${first.event_id}: pending again\n` });
    expect(JSON.parse(redeliveredJson.stdout)).toMatchObject({
      event_id: second.event_id,
      status: 'pending',
    });
    expect((await api.events.get(first.event_id)).status).toBe('pending');
  });

  it('tail --ack --max 2 prints each event as it comes, acks it, and exits 0 after two', async () => {
    // Prepare
    const { env, api } = await tenant();
    const before = await api.events.create({
      source: 'shop',
      event_type: 'order.created',
      payload: { n: 1 },
    });

    // Act
    const cli = start(['tail', '--ack', '--max', '2'], env);
    await until(() => cli.lines().length === 1, 'tail printed the waiting event', WAIT_MS);
    // Printed and acked: the tail is now waiting on a long poll for the next one.
    await until(() => t.longPoll.waiting() > 0, 'tail waits for the next event', WAIT_MS);
    const after = await api.events.create({ source: 'crm', event_type: 'contact.added', payload: { n: 2 } });
    const result = await cli.exited;

    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`${before.event_id} +order\\.created +shop +\\{"n":1\\}$`));
    expect(lines[1]).toMatch(new RegExp(`${after.event_id} +contact\\.added +crm +\\{"n":2\\}$`));
    expect((await api.events.get(before.event_id)).status).toBe('acknowledged');
    expect((await api.events.get(after.event_id)).status).toBe('acknowledged');
  });

  it('tail --json prints one leased event per line, and --max without --ack gives them back', async () => {
    // Prepare
    const { env, api } = await tenant();
    const a = await api.events.create({ source: 'shop', event_type: 'order.created', payload: { n: 1 } });
    const b = await api.events.create({ source: 'shop', event_type: 'order.paid', payload: { n: 2 } });
    await api.events.create({ source: 'crm', event_type: 'contact.added', payload: { n: 3 } });

    // Act
    const result = await runCli(['tail', '--json', '--max', '2', '--source', 'shop'], env);

    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    // Events created in one millisecond lease in any order.
    const shop = [a.event_id, b.event_id].sort();
    expect(lines.map((event) => event.event_id).sort()).toEqual(shop);
    expect(lines[0]).toMatchObject({
      status: 'pending',
      delivery_count: 1,
      lease: { lease_id: expect.any(String) },
    });
    // Only looked at: both are available again, and still pending.
    const leased = await api.inbox.lease({ limit: 10, source: 'shop' });
    expect(leased.events.map((event) => event.event_id).sort()).toEqual(shop);
  });

  it('SIGINT during tail nacks the events it holds and exits 130', async () => {
    // Prepare
    const { env, api } = await tenant();
    const held = await api.events.create({ source: 'shop', event_type: 'order.created', payload: {} });
    const cli = start(['tail', '--json'], env);
    await until(() => cli.lines().length === 1, 'tail printed the event', WAIT_MS);
    await until(() => t.longPoll.waiting() > 0, 'tail waits on a long poll', WAIT_MS);
    const whileHeld = await api.inbox.lease({ limit: 10 });

    // Act
    cli.child.kill('SIGINT');
    const result = await cli.exited;

    // Assess
    expect(whileHeld.events).toEqual([]);
    expect(result).toMatchObject({ code: 130, stderr: '' });
    expect(JSON.parse(cli.lines()[0] as string)).toMatchObject({ event_id: held.event_id });
    const event = await api.events.get(held.event_id);
    expect(event).toMatchObject({ status: 'pending', delivery_count: 1 });
    const leased = await api.inbox.lease({ limit: 10 });
    expect(leased.events.map((leasedEvent) => leasedEvent.event_id)).toEqual([held.event_id]);
    // The cut long poll freed its slot: nothing of the CLI still waits on the server.
    await until(() => t.longPoll.waiting() === 0, 'the long poll is gone', WAIT_MS);
  });

  it('SIGTERM during tail exits 143 and documents both codes in its help', async () => {
    // Prepare
    const { env } = await tenant();
    const cli = start(['tail'], env);
    await until(() => t.longPoll.waiting() > 0, 'tail waits on a long poll', WAIT_MS);

    // Act
    cli.child.kill('SIGTERM');
    const result = await cli.exited;
    const help = await runCli(['tail', '--help'], env);

    // Assess
    expect(result).toMatchObject({ code: 143, stdout: '', stderr: '' });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: triggers tail [options]');
    expect(help.stdout).toContain('exits 130');
    expect(help.stdout).toContain('exits 143');
  });

  it('listen forwards each event signed as webhooks are, and acks it on a 2xx', async () => {
    // Prepare
    const { env, api } = await tenant();
    const target = await receiver();
    const event = await api.events.create({
      source: 'shop',
      event_type: 'order.created',
      payload: { id: 1 },
    });
    await api.events.create({ source: 'crm', event_type: 'contact.added', payload: {} });

    // Act
    const cli = start(['listen', '--forward-to', target.url, '--source', 'shop'], env);
    await until(() => cli.lines().length === 1, 'listen printed a delivery', WAIT_MS);
    cli.child.kill('SIGINT');
    const result = await cli.exited;

    // Assess
    const secret = /signing secret is (whsec_[A-Za-z0-9+/=]+)/.exec(cli.stderr())?.[1] as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(target.received).toHaveLength(1);
    const [webhook] = target.received;
    const headers = webhook?.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(event.event_id);
    expect(headers['content-type']).toBe('application/json');
    expect(new Webhook(secret).verify(webhook?.body as string, headers)).toMatchObject({
      event_id: event.event_id,
      payload: { id: 1 },
    });
    // The body is the event as GET shows it (then leased): the same fields, no lease, no request_id.
    const { request_id: _requestId, ...shown } = await api.events.get(event.event_id);
    expect(Object.keys(JSON.parse(webhook?.body as string))).toEqual(Object.keys(shown));
    expect(cli.lines()[0]).toMatch(new RegExp(`${event.event_id} +order\\.created +-> 200 +\\d+ ms +acked$`));
    expect(shown.status).toBe('acknowledged');
    expect(result.code).toBe(130);
  });

  it('listen --max 2 forwards two events and exits 0, leaving the third pending', async () => {
    // Prepare
    const { env, api } = await tenant();
    const target = await receiver();
    const created = [];
    for (const n of [1, 2, 3])
      created.push(await api.events.create({ source: 'shop', event_type: 'order.created', payload: { n } }));

    // Act
    const result = await start(['listen', '--forward-to', target.url, '--max', '2'], env).exited;

    // Assess: two distinct events forwarded and acked (events of one millisecond come in any
    // order), the third never leased
    expect(result.code).toBe(0);
    const forwarded = target.received.map(
      (webhook) => (webhook.headers as Record<string, string>)['webhook-id'],
    );
    expect(new Set(forwarded).size).toBe(2);
    const after = await Promise.all(created.map((event) => api.events.get(event.event_id)));
    for (const event of after) {
      if (forwarded.includes(event.event_id)) expect(event.status).toBe('acknowledged');
      else expect(event).toMatchObject({ status: 'pending', delivery_count: 0 });
    }
    expect(after.filter((event) => event.status === 'pending')).toHaveLength(1);
  });

  it('listen nacks when the target answers 500, and the event comes back and is delivered again', async () => {
    // Prepare
    const { env, api } = await tenant();
    const target = await receiver();
    target.respond = () => ({ status: target.received.length === 1 ? 500 : 204 });
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const event = await api.events.create({ source: 'shop', event_type: 'order.created', payload: {} });

    // Act
    const cli = start(['listen', '--forward-to', target.url, '--json'], {
      ...env,
      TRIGGERS_WEBHOOK_SECRET: secret,
    });
    await until(() => cli.lines().length === 1, 'listen printed the failed delivery', WAIT_MS);
    const afterFailure = await api.events.get(event.event_id);
    // The nack's delay (1 s for a first delivery) runs on the server's clock.
    t.clock.advance(1_001);
    await until(() => cli.lines().length === 2, 'listen delivered the event again', WAIT_MS);
    cli.child.kill('SIGINT');
    await cli.exited;

    // Assess
    expect(cli.stderr()).toContain(secret);
    const [failed, succeeded] = cli.lines().map((line) => JSON.parse(line));
    expect(failed).toMatchObject({
      event_id: event.event_id,
      status_code: 500,
      result: 'nacked',
      retry_in: 1,
    });
    expect(succeeded).toMatchObject({ event_id: event.event_id, status_code: 204, result: 'acked' });
    expect(afterFailure).toMatchObject({ status: 'pending', delivery_count: 1 });
    expect(target.received).toHaveLength(2);
    for (const webhook of target.received) {
      expect(webhook.headers['webhook-id']).toBe(event.event_id);
      expect(() =>
        new Webhook(secret).verify(webhook.body, webhook.headers as Record<string, string>),
      ).not.toThrow();
    }
    expect(await api.events.get(event.event_id)).toMatchObject({ status: 'acknowledged', delivery_count: 2 });
  });

  it('Ctrl-C during a delivery of listen cuts it, gives the event back and exits 130', async () => {
    // Prepare: a target that would answer only after a minute.
    const { env, api } = await tenant();
    const target = await receiver();
    target.respond = () => ({ status: 200, delayMs: 60_000 });
    const event = await api.events.create({ source: 'shop', event_type: 'order.created', payload: {} });
    const cli = start(['listen', '--forward-to', target.url], env);
    await until(() => target.inFlight === 1, 'the target holds the delivery', WAIT_MS);

    // Act
    cli.child.kill('SIGINT');
    const result = await cli.exited;

    // Assess
    expect(result).toMatchObject({ code: 130, stdout: '' });
    expect(await api.events.get(event.event_id)).toMatchObject({ status: 'pending', delivery_count: 1 });
    const leased = await api.inbox.lease({ limit: 10 });
    expect(leased.events.map((leasedEvent) => leasedEvent.event_id)).toEqual([event.event_id]);
  });

  it('exits 2 with the usage line on bad usage, before sending anything', async () => {
    // Prepare
    const { env, tenantId } = await tenant();

    // Act
    const unknownFlag = await runCli(['list', '--colour'], env);
    const noSource = await runCli(['send', '--type', 'order.created'], env);
    const badJson = await runCli(['send', '--source', 's', '--type', 't', '--data', '{nope'], env);
    const badOrder = await runCli(['list', '--order', 'sideways'], env);
    const badMax = await runCli(['tail', '--max', '0'], env);
    const unknownCommand = await runCli(['frobnicate'], env);
    const noConfig = await runCli(['list'], {});

    // Assess
    expect(unknownFlag).toMatchObject({ code: 2, stdout: '' });
    expect(unknownFlag.stderr).toContain("error: unknown option '--colour'");
    expect(unknownFlag.stderr).toContain('Usage: triggers list [options]');
    expect(noSource).toMatchObject({ code: 2, stdout: '' });
    expect(noSource.stderr).toContain("required option '--source <source>' not specified");
    expect(noSource.stderr).toContain('Usage: triggers send [options]');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--data is not valid JSON');
    expect(badOrder.code).toBe(2);
    expect(badOrder.stderr).toContain('Usage: triggers list [options]');
    expect(badMax.code).toBe(2);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain("unknown command 'frobnicate'");
    expect(noConfig).toMatchObject({ code: 2, stdout: '' });
    expect(noConfig.stderr).toContain('TRIGGERS_API_URL');
    expect(await t.countEvents(tenantId)).toBe(0);
  });

  it('exits 1 with the error code on stderr when the API refuses', async () => {
    // Prepare
    const { env } = await tenant();
    const missing = randomUUID();

    // Act
    const notFound = await runCli(['get', missing], env);
    const badKey = await runCli(['list'], { ...env, TRIGGERS_API_KEY: 'tk_nope_nope' });
    const invalid = await runCli(['send', '--source', ' ', '--type', 't'], env);

    // Assess
    expect(notFound).toMatchObject({ code: 1, stdout: '' });
    expect(notFound.stderr).toMatch(/^error NOT_FOUND: .+/);
    expect(badKey).toMatchObject({ code: 1, stdout: '' });
    expect(badKey.stderr).toMatch(/^error UNAUTHORIZED: .+/);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error VALIDATION_ERROR: /);
  });

  it('writes no ANSI escape codes when its output is piped', async () => {
    // Prepare
    const { env, api } = await tenant();
    const created = await api.events.create({ source: 'shop', event_type: 'order.created', payload: {} });
    await api.events.create({ source: 'shop', event_type: 'order.paid', payload: {} });

    // Act
    const outputs = [
      await runCli(['list'], env),
      await runCli(['get', created.event_id], env),
      await runCli(['ack', created.event_id], env),
      await runCli(['ack', created.event_id], env),
      await runCli(['tail', '--max', '1'], env),
      await runCli(['send', '--type', 'x'], env),
    ];

    // Assess
    expect(outputs.map((output) => output.code)).toEqual([0, 0, 0, 1, 0, 2]);
    for (const output of outputs) {
      expect(output.stdout).not.toMatch(ANSI);
      expect(output.stderr).not.toMatch(ANSI);
    }
  });

  it('colours its output on a terminal only, and not with NO_COLOR', async () => {
    // Prepare: util-linux `script` runs the CLI on a pseudo-terminal.
    const { env, api } = await tenant();
    await api.events.create({ source: 'shop', event_type: 'order.created', payload: {} });
    const onTerminal = (extra: Record<string, string>) =>
      runCli([], {}, 20_000, {
        command: 'script',
        args: ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_BIN)} list`, '/dev/null'],
        env: { ...env, ...extra },
      });

    // Act
    const coloured = await onTerminal({});
    const plain = await onTerminal({ NO_COLOR: '1' });

    // Assess
    expect(coloured.code).toBe(0);
    expect(coloured.stdout).toMatch(ANSI);
    expect(coloured.stdout).toContain('pending');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('pending');
    expect(plain.stdout).not.toMatch(ANSI);
  });

  it('takes --url and --key over the environment, before or after the command name', async () => {
    // Prepare
    const { key, api } = await tenant();
    const wrongEnv = { TRIGGERS_API_URL: 'http://127.0.0.1:9/', TRIGGERS_API_KEY: 'tk_wrong_key' };
    const created = await api.events.create({ source: 'shop', event_type: 'order.created', payload: {} });

    // Act
    const after = await runCli(['get', created.event_id, '--url', baseUrl, '--key', key, '--json'], wrongEnv);
    const before = await runCli(['--url', baseUrl, '--key', key, '--json', 'list'], wrongEnv);
    const envOnly = await runCli(['list'], { ...wrongEnv, TRIGGERS_API_URL: baseUrl });

    // Assess
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ event_id: created.event_id });
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toEqual([expect.objectContaining({ event_id: created.event_id })]);
    expect(envOnly.code).toBe(1);
    expect(envOnly.stderr).toMatch(/^error UNAUTHORIZED: /);
  });

  it('creates, lists and deletes subscriptions', async () => {
    // Prepare
    const { env, api } = await tenant();
    const target = 'http://127.0.0.1:9/hooks';

    // Act
    const created = await runCli(
      ['subscriptions', 'create', '--url', target, '--type', 'order.*', '--type', 'contact.added', '--json'],
      env,
    );
    const subscription = JSON.parse(created.stdout);
    const text = await runCli(['subscriptions', 'create', '--url', `${target}/2`], env);
    const listed = await runCli(['subscriptions', 'list'], env);
    const deleted = await runCli(['subscriptions', 'delete', subscription.subscription_id], env);
    const listedJson = await runCli(['subscriptions', 'list', '--json'], env);

    // Assess
    expect(created.code).toBe(0);
    expect(subscription).toMatchObject({
      target_url: target,
      event_types: ['order.*', 'contact.added'],
      status: 'active',
      secret: expect.stringMatching(/^whsec_/),
    });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Created sub_\w+ -> http:\/\/127\.0\.0\.1:9\/hooks\/2$/m);
    expect(text.stdout).toMatch(/^Signing secret \(shown only now\): whsec_/m);
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^SUBSCRIPTION ID +STATUS +CREATED +EVENT TYPES +SOURCES +TARGET URL$/);
    expect(rows).toHaveLength(2);
    expect(listed.stdout).toContain('order.*,contact.added');
    expect(listed.stdout).not.toContain('whsec_');
    expect(deleted).toMatchObject({ code: 0, stdout: `Deleted ${subscription.subscription_id}\n` });
    expect(JSON.parse(listedJson.stdout)).toHaveLength(1);
    const remaining = [];
    for await (const left of api.subscriptions.list()) remaining.push(left.target_url);
    expect(remaining).toEqual([`${target}/2`]);
  });
});
