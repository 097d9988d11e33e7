import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a server, that can fail two ways. After `blackHole()` it
 * stalls: it accepts connections and bytes but forwards nothing either way, as a dead network path
 * does (`restore()` resumes; what was swallowed is lost). After `refuse()` it is an outage: every
 * connection is cut and new ones are refused, as when the server is down (`accept()` resumes).
 */
export async function startTcpProxy(target: { host: string; port: number }, listenPort = 0) {
  let silent = false;
  let refusing = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(target);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      if (!silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!silent) client.write(chunk);
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(listenPort);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    blackHole(): void {
      silent = true;
    },
    restore(): void {
      silent = false;
    },
    /** Cuts every connection and stops listening, so that connecting fails with ECONNREFUSED. */
    async refuse(): Promise<void> {
      refusing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    /** Listens again, on the same port. */
    async accept(): Promise<void> {
      refusing = false;
      await listen(port);
    },
    close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      if (refusing) return Promise.resolve();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
