import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Auth } from '../server/index.js';
import { fromThisMachine, servesThisMachineOnly } from './this-machine.js';

/*
 * The reference server's endpoints for whoever runs it: `GET /healthz` (200 while the process runs,
 * for a liveness probe), `GET /readyz` (200 only when `auth.readiness()` says ready, 503 otherwise,
 * and before the kit is built at all: a load balancer sends a starting node nothing), and
 * `GET /metrics` (Prometheus text). The metrics say more than the answers do (mails sent tell which
 * addresses have accounts), so /metrics answers only a bearer of `METRICS_TOKEN` when it is set, and
 * without it only this machine while the server is not deployed (this-machine.ts).
 */

const JSON_TYPE = 'application/json; charset=utf-8';

/** Who may read /metrics: `token` is METRICS_TOKEN (null: unset); `appUrl` tells a deployment. */
export interface MetricsAccess {
  token: string | null;
  appUrl: string;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** 'ok', or how to refuse: 401 to a wrong bearer where a token is set, 404 where /metrics is not served. */
function metricsAccess(request: IncomingMessage, access: MetricsAccess): 'ok' | 401 | 404 {
  if (access.token === null) return servesThisMachineOnly(access.appUrl) && fromThisMachine(request) ? 'ok' : 404;
  const given = request.headers.authorization ?? '';
  // Compared as digests, so the comparison takes as long whatever the length of the guess.
  return timingSafeEqual(digest(given), digest(`Bearer ${access.token}`)) ? 'ok' : 401;
}

/** Answers `request` if it is one of these endpoints, and says whether it was. */
export function serveOperations(request: IncomingMessage, response: ServerResponse, served: { auth: Auth | null; metrics: MetricsAccess }): boolean {
  const { auth } = served;
  const path = request.url?.split('?')[0];
  if (request.method !== 'GET' || (path !== '/healthz' && path !== '/readyz' && path !== '/metrics')) return false;
  // A probe's answer is of the moment: never cached.
  response.setHeader('cache-control', 'no-store');
  if (path === '/healthz') {
    response.writeHead(200, { 'content-type': JSON_TYPE }).end('{"ok":true}');
  } else if (path === '/readyz') {
    if (!auth) {
      response.writeHead(503, { 'content-type': JSON_TYPE }).end(JSON.stringify({ ready: false, starting: true }));
    } else {
      void auth.readiness().then((readiness) => response.writeHead(readiness.ready ? 200 : 503, { 'content-type': JSON_TYPE }).end(JSON.stringify(readiness)));
    }
  } else {
    serveMetrics(request, response, served);
  }
  return true;
}

function serveMetrics(request: IncomingMessage, response: ServerResponse, served: { auth: Auth | null; metrics: MetricsAccess }): void {
  const access = metricsAccess(request, served.metrics);
  if (access !== 'ok') {
    response.writeHead(access, access === 401 ? { 'www-authenticate': 'Bearer realm="metrics"' } : {}).end();
    return;
  }
  if (!served.auth) {
    response.writeHead(503).end();
    return;
  }
  const registry = served.auth.metricsRegistry;
  registry.metrics().then(
    (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
    () => response.writeHead(500).end(),
  );
}
