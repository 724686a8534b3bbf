import http from 'node:http';
import https from 'node:https';
import { type TargetGuard, TargetRefusedError } from './target-guard';

export interface PostResult {
  /** The target's status; null when it did not answer. */
  statusCode: number | null;
  /** Why it failed, for the delivery log; null when the status code says it all (2xx). */
  error: string | null;
}

export interface WebhookPoster {
  post(url: string, headers: Record<string, string>, body: string): Promise<PostResult>;
  /** Cuts requests in flight and closes idle connections. */
  close(): void;
}

/**
 * POSTs webhooks over node:http(s) with keep-alive agents (a connection is reused for the
 * next webhook to the same target). Every new connection resolves its host through the
 * guard, which refuses non-public addresses in AUTH_MODE=aws; a literal address (which Node
 * connects to without a lookup) and the scheme are checked by the guard before the request.
 * A redirect is an answer like any other: it is reported, never followed.
 */
/** How much of a response body is read (and thrown away) before its connection is cut. */
const DRAIN_MAX_BYTES = 64 * 1024;
const DRAIN_MS = 5_000;

export function createPoster(
  guard: TargetGuard,
  options: { timeoutMs: number; socketsPerHost: number },
): WebhookPoster {
  // As many sockets per host as attempts may run at once: many subscriptions share a host
  // (every Zap's URL is on hooks.zapier.com), and a request queued for a socket inside the
  // agent would spend its timeout waiting there. The deliverer bounds what runs at once.
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.socketsPerHost,
    lookup: guard.connectionLookup,
  };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  const inFlight = new Set<http.ClientRequest>();

  const post = (url: string, headers: Record<string, string>, body: string): Promise<PostResult> =>
    new Promise((resolve) => {
      const target = new URL(url);
      const refused = guard.refusal(target);
      if (refused) {
        resolve({ statusCode: null, error: refused.message });
        return;
      }
      const secure = target.protocol === 'https:';
      const payload = Buffer.from(body, 'utf8');
      let settled = false;
      const settle = (result: PostResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        inFlight.delete(request);
        resolve(result);
      };
      // One options object, not request(url, options): a wrapper that patches request() with
      // the one-argument form (Zapier's runtime does) would drop the options.
      const request = (secure ? https : http).request({
        protocol: target.protocol,
        hostname: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        // On the request as well as on the agents: whichever options a connection is made
        // from, its address comes from the guard.
        lookup: guard.connectionLookup,
        headers: { ...headers, 'content-length': String(payload.length) },
      });
      inFlight.add(request);
      const timer = setTimeout(() => {
        settle({ statusCode: null, error: `No answer within ${options.timeoutMs / 1000} seconds.` });
        request.destroy();
      }, options.timeoutMs);
      request.on('response', (response) => {
        // The body is not read, but drained so that the connection can carry the next webhook;
        // a body that is large or slow to end is cut, with its connection, not waited for.
        let drained = 0;
        const cut = setTimeout(() => response.destroy(), DRAIN_MS);
        response.on('data', (chunk: Buffer) => {
          drained += chunk.length;
          if (drained > DRAIN_MAX_BYTES) response.destroy();
        });
        response.on('close', () => clearTimeout(cut));
        response.resume();
        const status = response.statusCode ?? null;
        settle({ statusCode: status, error: describeStatus(status, response.headers.location) });
      });
      request.on('error', (error) => settle({ statusCode: null, error: describeError(error) }));
      request.end(payload);
    });

  return {
    post,
    close() {
      for (const request of inFlight) request.destroy(new Error('the deliverer is stopping'));
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

function describeStatus(status: number | null, location: string | undefined): string | null {
  if (status !== null && status >= 200 && status < 300) return null;
  if (status !== null && status >= 300 && status < 400) {
    return `The target answered ${status}${location ? ` (Location: ${location.slice(0, 200)})` : ''}; redirects are not followed.`;
  }
  return `The target answered ${status}.`;
}

function describeError(error: Error & { code?: string }): string {
  if (error instanceof TargetRefusedError) return error.message;
  const code = error.code ? `${error.code}: ` : '';
  return `Could not deliver: ${code}${error.message}`.slice(0, 512);
}
