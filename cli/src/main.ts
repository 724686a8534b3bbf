import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ack, get, redeliver, send } from './commands/events.js';
import { list } from './commands/list.js';
import { listen } from './commands/listen.js';
import { createSubscription, deleteSubscription, listSubscriptions } from './commands/subscriptions.js';
import { tail } from './commands/tail.js';
import { type Context, contextFor, GLOBAL_OPTIONS, type Io } from './context.js';
import { EXIT, reportError, UsageError } from './errors.js';
import { createPaint } from './output.js';

const VERSION = '0.1.0';

/** `--limit` and `--max`: a whole number from 1 to `max`. */
function positiveInteger(name: string, max: number) {
  return (value: string): number => {
    const number = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1 || number > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}.`);
    }
    return number;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `--url`, `--key` and `--json`, taken before the command name or after it. `subscriptions
 * create` has a `--url` of its own (the target): there the API URL goes before the command
 * name (`triggers --url API subscriptions create --url TARGET`) or in TRIGGERS_API_URL.
 */
function withGlobalOptions(command: Command, { url = true } = {}): Command {
  const options = [
    new Option('--url <url>', 'API base URL (default: $TRIGGERS_API_URL)'),
    new Option('--key <key>', 'API key (default: $TRIGGERS_API_KEY)'),
    new Option('--json', 'print JSON (one object per line for tail and listen)'),
  ];
  for (const option of options) {
    if (option.long === '--url' && !url) continue;
    GLOBAL_OPTIONS.add(option);
    command.addOption(option);
  }
  return command;
}

/**
 * The `triggers` program. Each action gets its Context and returns its exit code (or nothing
 * for 0), which `main` hands back.
 */
export function buildProgram(io: Io, done: (code: number) => void): Command {
  const program = new Command('triggers');
  program
    .description('Send, list, tail and forward Triggers API events.')
    .version(VERSION, '-V, --version')
    // Program options are read only before the command name: `--json` after it is the command's.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      'after',
      `
Configuration: TRIGGERS_API_URL and TRIGGERS_API_KEY, or --url and --key (the flags win).
Exit codes: 0 success, 1 API error (code and message on stderr), 2 bad usage,
130 tail/listen stopped by Ctrl-C (143 by SIGTERM).`,
    );
  withGlobalOptions(program);

  const run =
    <Args extends unknown[]>(action: (ctx: Context, ...args: Args) => Promise<unknown>) =>
    async (...args: unknown[]) => {
      // commander passes the positional arguments, the options, then the command itself.
      const command = args[args.length - 1] as Command;
      const actionArgs = args.slice(0, -2) as unknown[];
      const options = args[args.length - 2];
      const ctx = contextFor(command, io);
      const code = await action(ctx, ...([...actionArgs, options] as Args));
      done(typeof code === 'number' ? code : EXIT.ok);
    };

  withGlobalOptions(
    program
      .command('send')
      .description('send one event')
      .requiredOption('--source <source>', 'the event source, e.g. shop')
      .requiredOption('--type <type>', 'the event type, e.g. order.created')
      .option('--data <json>', 'the payload: a JSON object, @file, or @- for stdin (default: {})')
      .option('--idempotency-key <key>', 'send twice with one key, store once'),
  ).action(run((ctx, options: Parameters<typeof send>[1]) => send(ctx, options)));

  withGlobalOptions(program.command('get').description('show one event').argument('<id>', 'event id')).action(
    run((ctx, id: string) => get(ctx, id)),
  );
  withGlobalOptions(
    program.command('ack').description('acknowledge a pending event').argument('<id>', 'event id'),
  ).action(run((ctx, id: string) => ack(ctx, id)));
  withGlobalOptions(
    program
      .command('redeliver')
      .description('make an acknowledged or dead event pending again')
      .argument('<id>', 'event id'),
  ).action(run((ctx, id: string) => redeliver(ctx, id)));

  withGlobalOptions(
    program
      .command('list')
      .description('list events, newest first, whatever their status')
      .addOption(
        new Option('--status <status>', 'only this status').choices(['pending', 'acknowledged', 'dead']),
      )
      .option('--source <source>', 'only this source')
      .option('--type <type>', 'only this event type')
      .option('--limit <n>', 'at most this many events (1-10000)', positiveInteger('--limit', 10_000), 50)
      .addOption(new Option('--order <order>', 'by creation time').choices(['asc', 'desc']).default('desc')),
  ).action(run((ctx, options: Parameters<typeof list>[1]) => list(ctx, options)));

  withGlobalOptions(
    program
      .command('tail')
      .description('follow the inbox: print each event as it comes (long-poll leases)')
      .option('--source <source>', 'only this source')
      .option('--type <type>', 'only this event type')
      .option('--ack', 'acknowledge each event after printing it')
      .option('--max <n>', 'exit 0 after this many events', positiveInteger('--max', 1_000_000))
      .addHelpText(
        'after',
        `
Without --ack, tail only looks: it keeps the events it printed leased (so it does not print
them again) and gives them back (nack, available again at once) when it exits. Each look
counts as a delivery: after the server's TRIGGERS_MAX_DELIVERIES an unacked event is dead.
Ctrl-C (SIGINT) gives back what it holds and exits 130; SIGTERM does the same and exits 143.
With --max N it exits 0 after N events.`,
      ),
  ).action(run((ctx, options: Parameters<typeof tail>[1]) => tail(ctx, options)));

  withGlobalOptions(
    program
      .command('listen')
      .description('forward events to a local URL, signed as the API signs webhooks (like stripe listen)')
      .requiredOption('--forward-to <url>', 'where to POST each event, e.g. http://localhost:3000/webhooks')
      .option('--source <source>', 'only this source')
      .option('--secret <whsec>', 'sign with this secret (default: $TRIGGERS_WEBHOOK_SECRET, else a new one)')
      .option('--max <n>', 'exit 0 after this many deliveries', positiveInteger('--max', 1_000_000))
      .addHelpText(
        'after',
        `
Prints the signing secret at start (on stderr), then one line per delivery: time, event id,
type, status code, milliseconds. A 2xx acks the event; anything else nacks it, so it comes
back (after 1, 2, 4... s; dead after the server's TRIGGERS_MAX_DELIVERIES deliveries).
Ctrl-C (SIGINT) gives back the event it holds and exits 130; SIGTERM exits 143.
With --max N it exits 0 after N deliveries (a script's or a test's run).`,
      ),
  ).action(run((ctx, options: Parameters<typeof listen>[1]) => listen(ctx, options)));

  const subscriptions = program.command('subscriptions').description('manage webhook subscriptions');
  withGlobalOptions(
    subscriptions
      .command('create')
      .description('subscribe a URL to events (webhooks); prints its signing secret once')
      .requiredOption('--url <target>', 'the target URL the API POSTs each event to')
      .option('--type <type>', 'an event type or prefix (order.*); repeat for more', collect)
      .option('--source <source>', 'a source; repeat for more', collect)
      .option('--description <text>', 'a note for people')
      .addHelpText(
        'after',
        `
--url here is the target: give the API URL in TRIGGERS_API_URL or before the command name,
e.g. triggers --url http://127.0.0.1:8080 subscriptions create --url https://example.com/hooks`,
      ),
    { url: false },
  ).action(run((ctx, options: Parameters<typeof createSubscription>[1]) => createSubscription(ctx, options)));
  withGlobalOptions(subscriptions.command('list').description('list subscriptions, newest first')).action(
    run((ctx) => listSubscriptions(ctx)),
  );
  withGlobalOptions(
    subscriptions.command('delete').description('delete a subscription').argument('<id>', 'subscription id'),
  ).action(run((ctx, id: string) => deleteSubscription(ctx, id)));

  return program;
}

/** Every command below `command`, itself included. */
function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * Runs `triggers` with `argv` (node, script, …args) and resolves with its exit code: 0, 1 on
 * an API error, 2 on bad usage (the error and the usage line on stderr), 130 or 143 when
 * tail or listen is stopped by a signal.
 */
export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  // Every command: commander's errors throw (exitOverride, inherited) and end with the usage line.
  for (const command of allCommands(program)) {
    command.showHelpAfterError(`Usage: ${commandPath(command)} ${command.usage()}`);
  }
  const paint = createPaint(io.stderr.isTTY === true && !io.env.NO_COLOR);
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are successes; everything else commander refuses is bad usage.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
        ? EXIT.ok
        : EXIT.usage;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`${paint.red('error')}: ${error.message}\n`);
      io.stderr.write(`Run 'triggers --help' for usage.\n`);
      return EXIT.usage;
    }
    const out = contextFor(program, io).out;
    return reportError(out, error);
  }
}

function defaultIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
