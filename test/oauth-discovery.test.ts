import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOAuthProvider } from '../server/oauth/providers.js';
import { createManualClock } from './harness/clock.js';
import { OIDC_CLIENTS, startOidcIssuer } from './harness/oidc-issuer.js';
import type { OidcIssuer } from './harness/oidc-issuer.js';
import { APP_URL } from './harness/test-kit.js';

/*
 * An OpenID Connect provider's discovery document, as a long-running server keeps it: fetched once,
 * fetched again a day later (an issuer may move an endpoint), and never the reason sign-in fails while
 * the issuer's discovery is down.
 */

const DAY_SECONDS = 86_400;

describe('OpenID Connect discovery', () => {
  let issuer: OidcIssuer;

  before(async () => {
    issuer = await startOidcIssuer({ redirectUri: `${APP_URL}/oauth/callback` });
  });

  after(() => issuer.close());

  it('is fetched once a day; a failed refetch keeps the old document and tries again minutes later', async () => {
    const clock = createManualClock();
    const provider = createOAuthProvider('corp', { issuer: issuer.issuer, ...OIDC_CLIENTS.basic }, { clock, timeoutMs: 2000 });
    const signal = new AbortController().signal;
    const before = issuer.discoveryRequests;

    const [first, second] = await Promise.all([provider.metadata(signal), provider.metadata(signal)]);
    assert.equal(first.token_endpoint, `${issuer.issuer}/token`);
    assert.equal(second, first);
    clock.advanceSeconds(DAY_SECONDS - 1);
    await provider.metadata(signal);
    assert.equal(issuer.discoveryRequests - before, 1, 'two calls at once and a day of calls share one discovery');

    clock.advanceSeconds(2);
    issuer.discoveryFails = true;
    try {
      assert.deepEqual(await provider.metadata(signal), first, 'the issuer is down: the day-old document serves on');
      assert.equal(issuer.discoveryRequests - before, 2);
      await provider.metadata(signal);
      assert.equal(issuer.discoveryRequests - before, 2, 'the next try waits');
    } finally {
      issuer.discoveryFails = false;
    }
    clock.advanceSeconds(5 * 60);
    assert.equal((await provider.metadata(signal)).issuer, issuer.issuer);
    assert.equal(issuer.discoveryRequests - before, 3, 'fetched again once the wait is over');
  });

  it('a first discovery that fails is not remembered: the next call tries again', async () => {
    const clock = createManualClock();
    const provider = createOAuthProvider('corp', { issuer: issuer.issuer, ...OIDC_CLIENTS.basic }, { clock, timeoutMs: 2000 });
    const signal = new AbortController().signal;
    issuer.discoveryFails = true;
    try {
      await assert.rejects(provider.metadata(signal));
    } finally {
      issuer.discoveryFails = false;
    }
    assert.equal((await provider.metadata(signal)).issuer, issuer.issuer);
  });
});
