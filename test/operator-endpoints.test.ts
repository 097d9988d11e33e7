import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serveOperations } from '../reference-server/operations.js';
import type { MetricsAccess } from '../reference-server/operations.js';
import { serveOutbox } from '../reference-server/outbox.js';

/*
 * The reference server's endpoints that answer only its operator: the dev outbox (live links for every
 * address) and /metrics (mails sent tell which addresses have accounts). A reverse proxy on the same
 * machine connects from loopback for every client on the internet; these tests are that proxy.
 */

interface Exposure {
  appUrl: string;
  metricsToken: string | null;
}

/** The two endpoints as the reference server serves them, before the kit is built (/metrics then answers 503). */
async function serve(exposure: Exposure) {
  const metrics: MetricsAccess = { token: exposure.metricsToken, appUrl: exposure.appUrl };
  const server = createServer((req, res) => {
    if (serveOperations(req, res, { auth: null, metrics })) return;
    serveOutbox(req, res, { outbox: { recent: () => [] }, appUrl: exposure.appUrl });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const status = (path: string, headers: Record<string, string> = {}) =>
    new Promise<number | undefined>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).on('error', reject);
    });
  return { status, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe("the reference server's operator endpoints", () => {
  let undeployed: Awaited<ReturnType<typeof serve>>;
  let deployed: Awaited<ReturnType<typeof serve>>;
  let scraped: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    undeployed = await serve({ appUrl: 'http://localhost:3000', metricsToken: null });
    deployed = await serve({ appUrl: 'https://app.example.test', metricsToken: null });
    scraped = await serve({ appUrl: 'https://app.example.test', metricsToken: 'scrape-secret' });
  });

  after(async () => {
    await Promise.all([undeployed.close(), deployed.close(), scraped.close()]);
  });

  it('while mailed links lead to this machine, both answer a loopback client that came through no proxy', async () => {
    assert.equal(await undeployed.status('/dev/outbox'), 200);
    // 503: served, but the kit is not built yet.
    assert.equal(await undeployed.status('/metrics'), 503);
  });

  it('a request a proxy forwarded is refused, though it comes from loopback', async () => {
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'via']) {
      for (const path of ['/dev/outbox', '/metrics']) assert.equal(await undeployed.status(path, { [header]: '203.0.113.7' }), 404, `${path} with ${header}`);
    }
  });

  it('once deployed (APP_URL elsewhere), the outbox is never served, and /metrics only with METRICS_TOKEN', async () => {
    // A proxy with nginx's defaults adds no header and names the upstream in Host: nothing tells it apart.
    assert.equal(await deployed.status('/dev/outbox'), 404);
    assert.equal(await deployed.status('/dev/outbox', { host: 'app.example.test' }), 404);
    assert.equal(await deployed.status('/metrics'), 404);
    assert.equal(await scraped.status('/metrics'), 401);
    assert.equal(await scraped.status('/metrics', { authorization: 'Bearer scrape-secreT' }), 401);
    assert.equal(await scraped.status('/metrics', { authorization: 'Bearer scrape-secret' }), 503);
  });
});
