import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Auth } from '../server/index.js';

/*
 * The reference server's endpoints for whoever runs it: `GET /healthz` (200 while the process runs,
 * for a liveness probe), `GET /readyz` (200 only when `auth.readiness()` says ready, 503 otherwise,
 * and before the kit is built at all: a load balancer sends a starting node nothing), and
 * `GET /metrics` (Prometheus text). Expose /metrics to your monitoring only, not to the world.
 */

const JSON_TYPE = 'application/json; charset=utf-8';

/** Answers `request` if it is one of these endpoints, and says whether it was. */
export function serveOperations(request: IncomingMessage, response: ServerResponse, auth: Auth | null): boolean {
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
  } else if (!auth) {
    response.writeHead(503).end();
  } else {
    const registry = auth.metricsRegistry;
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  }
  return true;
}
