import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  /** The request's path (and query), which tells apart subscriptions sharing the receiver. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent (what a signature is computed over). */
  body: string;
  receivedAt: number;
  /** The status answered, once answered (a receiver that answered 2xx has the event). */
  answer?: number;
}

/** What the receiver answers: a status, optionally after a delay, optionally with headers. */
export interface Answer {
  status: number;
  delayMs?: number;
  headers?: Record<string, string>;
}

/**
 * A real HTTP receiver on 127.0.0.1 for webhook tests: records every request and answers
 * what `respond` says (200 by default). `inFlight` / `maxInFlight` show how many requests it
 * held at once.
 */
export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  respond: (webhook: ReceivedWebhook) => Answer;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hooks'): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    respond: () => ({ status: 200 }),
    inFlight: 0,
    maxInFlight: 0,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    receiver.inFlight += 1;
    receiver.maxInFlight = Math.max(receiver.maxInFlight, receiver.inFlight);
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const webhook: ReceivedWebhook = {
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      receiver.received.push(webhook);
      const answer = receiver.respond(webhook);
      const finish = () => {
        receiver.inFlight -= 1;
        if (res.destroyed) return;
        res.writeHead(answer.status, answer.headers).end('ok');
        webhook.answer = answer.status;
      };
      // Unref'd: a receiver closed while it holds an answer must not keep Jest waiting for it.
      if (answer.delayMs) setTimeout(finish, answer.delayMs).unref();
      else finish();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}${path}`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}
