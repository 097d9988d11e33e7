import type { IncomingMessage } from 'node:http';

/*
 * Whether a request may be taken for one from this machine, for the endpoints that serve only it.
 * A loopback peer alone does not tell: a reverse proxy on the same host connects from loopback for
 * every client on the internet, and with nginx's defaults it even names the upstream in `Host`. Two
 * things together do: the server is not deployed (APP_URL, where mailed links lead, is itself on
 * loopback: no user elsewhere could follow them), and the request came straight from a loopback
 * peer with no forwarding header (a proxy set up to pass the client's address adds one).
 */

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'];

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** True when the server's links lead to this machine: a development server, not a deployment. */
export function servesThisMachineOnly(appUrl: string): boolean {
  return isLoopbackHost(new URL(appUrl).hostname);
}

/** True when `request` came straight from a loopback peer, through no proxy that says so. */
export function fromThisMachine(request: IncomingMessage): boolean {
  const peer = request.socket.remoteAddress ?? '';
  const loopback = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  return loopback && FORWARDING_HEADERS.every((name) => request.headers[name] === undefined);
}
