import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real endpoint, so that a test can take the endpoint away from a
 * client and give it back, on the same port, while the service behind it keeps running (and
 * keeps every write it acknowledged). `cut()` closes the port (new connections are refused)
 * and drops every open connection, which is what a client sees when the service dies;
 * `restore()` listens again.
 */
export interface TcpProxy {
  endpoint: string;
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        track(client);
        track(upstream);
        client.pipe(upstream).pipe(client);
        // Either side failing ends the other: the client sees a dead connection, as it would.
        client.once('error', () => upstream.destroy());
        upstream.once('error', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  let server: Server | undefined = await listen(0);
  const port = (server.address() as { port: number }).port;
  const cut = async () => {
    const closing = server;
    server = undefined;
    if (!closing) return;
    const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
    // destroy(), not resetAndDestroy(): a reset still pending when this process ends keeps
    // Node's exit spinning (it waits for that handle to close), seen here under jest.
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    cut,
    async restore() {
      server ??= await listen(port);
    },
    close: cut,
  };
}
