import { createTriggersClient, type TriggersClient } from '@triggers-api/sdk';
import type { Command, Option } from 'commander';
import { UsageError } from './errors.js';
import { createOutput, type Output, type TextStream } from './output.js';

/** The options every command takes, before or after its name. */
export interface GlobalOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

/** What a command runs with: the process's streams and environment, injected for tests. */
export interface Io {
  stdout: TextStream;
  stderr: TextStream;
  env: NodeJS.ProcessEnv;
}

export interface Context {
  out: Output;
  io: Io;
  /** The client, made on first use so that a command that fails on usage needs no config. */
  client(): TriggersClient;
}

/** The options every command shares; a command's own option of the same name is not one. */
export const GLOBAL_OPTIONS = new WeakSet<Option>();

/** A shared option's value: the command's own (after its name) wins over its parents'. */
function globalOption<T>(command: Command, name: keyof GlobalOptions): T | undefined {
  for (let at: Command | null = command; at; at = at.parent) {
    const option = at.options.find(
      (candidate) => GLOBAL_OPTIONS.has(candidate) && candidate.attributeName() === name,
    );
    const value = option ? at.getOptionValue(name) : undefined;
    if (value !== undefined) return value as T;
  }
  return undefined;
}

export const CLIENT_NAME = 'triggers-cli/0.1.0';

/**
 * The command's context: `--url` and `--key` win over TRIGGERS_API_URL and TRIGGERS_API_KEY;
 * neither given is a usage error (exit 2), said before any request is sent.
 */
export function contextFor(command: Command, io: Io): Context {
  const options: GlobalOptions = {
    url: globalOption<string>(command, 'url'),
    key: globalOption<string>(command, 'key'),
    json: globalOption<boolean>(command, 'json'),
  };
  const out = createOutput({
    json: options.json === true,
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
  });
  let client: TriggersClient | undefined;
  return {
    out,
    io,
    client() {
      if (client) return client;
      const baseUrl = options.url ?? io.env.TRIGGERS_API_URL;
      const apiKey = options.key ?? io.env.TRIGGERS_API_KEY;
      if (!baseUrl) throw new UsageError('no API URL: pass --url or set TRIGGERS_API_URL');
      if (!apiKey) throw new UsageError('no API key: pass --key or set TRIGGERS_API_KEY');
      if (!/^https?:\/\//.test(baseUrl)) throw new UsageError(`--url must be an http(s) URL, got ${baseUrl}`);
      client = createTriggersClient({ baseUrl, apiKey, userAgent: CLIENT_NAME });
      return client;
    },
  };
}
