import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Writes to `socket` what it is given, each chunk `delayMs()` after it came (read when it comes), in
 * the order given: a chunk never overtakes one delayed longer before it.
 */
function delayedWriter(socket: Socket, delayMs: () => number) {
  const queue: Array<{ chunk: Buffer; due: number }> = [];
  let timer: NodeJS.Timeout | null = null;
  function drain(): void {
    timer = null;
    for (let next = queue[0]; next && next.due <= Date.now(); next = queue[0]) {
      queue.shift();
      socket.write(next.chunk);
    }
    const next = queue[0];
    if (next) timer = setTimeout(drain, next.due - Date.now());
  }
  return (chunk: Buffer): void => {
    const delay = delayMs();
    if (delay === 0 && queue.length === 0) {
      socket.write(chunk);
      return;
    }
    const last = queue.at(-1)?.due ?? 0;
    queue.push({ chunk, due: Math.max(Date.now() + delay, last) });
    timer ??= setTimeout(drain, delay);
  };
}

/**
 * A TCP proxy on loopback in front of a server, that can fail three ways. After `blackHole()` it
 * stalls: it accepts connections and bytes but forwards nothing either way, as a dead network path
 * does (`restore()` resumes; what was swallowed is lost). After `refuse()` it is an outage: every
 * connection is cut and new ones are refused, as when the server is down (`accept()` resumes). After
 * `slow(ms)` every byte from the server reaches its client that much later, as from an overloaded
 * server (`slow(0)` ends it; what is under way still arrives late, in order).
 */
export async function startTcpProxy(target: { host: string; port: number }, listenPort = 0) {
  let silent = false;
  let refusing = false;
  let latencyMs = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(target);
    sockets.add(client).add(upstream);
    const toClient = delayedWriter(client, () => latencyMs);
    client.on('data', (chunk) => {
      if (!silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!silent) toClient(chunk);
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
    /** Delays everything the server sends by `ms` from now on; 0 ends the delay. */
    slow(ms: number): void {
      latencyMs = ms;
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
