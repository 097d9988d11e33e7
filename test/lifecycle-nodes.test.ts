import assert from 'node:assert/strict';
import { it } from 'node:test';
import { accepts, registerConfirmed } from './harness/flows.js';
import type { TestApp, TestKit } from './harness/test-kit.js';
import { PASSWORD, describeOnPostgres } from './harness/test-kit.js';
import { until } from './harness/poll.js';

/*
 * Disabling and deleting on one node end every kind of token cached on another within the
 * propagation bound (SECURITY.md PROP_BOUND: 1 s at most here, with a healthy listener).
 */

const PROP_BOUND_MS = 1000;

/** A user with two sessions and an API token, each cached on both nodes. */
async function warmUser(kit: TestKit, b: TestApp) {
  const { email, user, tokens } = await registerConfirmed(kit);
  const second = await b.client().auth.login.mutate({ identifier: email, password: PASSWORD });
  const apiToken = (await kit.client(tokens.accessToken).auth.apiTokens.create.mutate({ name: 'script' })).token;
  const bearers = [tokens.accessToken, second.tokens.accessToken, apiToken];
  for (const app of [kit, b]) for (const token of bearers) assert.ok(await accepts(app, token));
  return { email, user, bearers, refreshTokens: [tokens.refreshToken, second.tokens.refreshToken as string] };
}

/** How long after `since` node `app` refuses every one of `bearers`; fails past twice the bound. */
async function refusedWithin(app: TestApp, bearers: string[], since: number): Promise<number> {
  await until(async () => {
    for (const token of bearers) if (await accepts(app, token)) return false;
    return true;
  }, 'every token refused', 2 * PROP_BOUND_MS);
  return Date.now() - since;
}

describeOnPostgres('the account lifecycle on two nodes', (kit) => {
  it('disable on A refuses every token on A at once and on B within the bound; the refresh tokens die on both', async (t) => {
    const b = await kit().variant({});
    const { user, bearers, refreshTokens } = await warmUser(kit(), b);
    await kit().auth.admin.users.disable(user.id);
    const since = Date.now();
    for (const token of bearers) assert.equal(await accepts(kit(), token), false, 'refused on A before the call returned');
    const lag = await refusedWithin(b, bearers, since);
    t.diagnostic(`disable: B refused all three tokens ${lag} ms after the call returned`);
    assert.ok(lag < PROP_BOUND_MS, `B refused after ${lag} ms`);
    for (const refreshToken of refreshTokens) {
      for (const app of [kit(), b]) await assert.rejects(app.client().auth.refresh.mutate({ refreshToken }));
    }
  });

  it('delete on A, by an administrator or by the user on B, ends every token on both nodes within the bound', async (t) => {
    const b = await kit().variant({});
    const byAdmin = await warmUser(kit(), b);
    await kit().auth.admin.users.delete(byAdmin.user.id);
    let since = Date.now();
    for (const token of byAdmin.bearers) assert.equal(await accepts(kit(), token), false);
    let lag = await refusedWithin(b, byAdmin.bearers, since);
    t.diagnostic(`admin delete: B refused all three tokens ${lag} ms after the call returned`);
    assert.ok(lag < PROP_BOUND_MS, `B refused after ${lag} ms`);

    const byThemselves = await warmUser(kit(), b);
    const [sessionToken] = byThemselves.bearers as [string];
    await b.client(sessionToken).auth.deleteAccount.mutate({ password: PASSWORD });
    since = Date.now();
    lag = await refusedWithin(kit(), byThemselves.bearers, since);
    t.diagnostic(`deleteAccount: A refused all three tokens ${lag} ms after the call returned`);
    assert.ok(lag < PROP_BOUND_MS, `A refused after ${lag} ms`);
    for (const token of byThemselves.bearers) assert.equal(await accepts(b, token), false);
  });
});
