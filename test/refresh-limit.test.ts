import assert from 'node:assert/strict';
import { it } from 'node:test';
import { eq } from 'drizzle-orm';
import { accessTokenTable, sessionTable } from '../db/index.js';
import { createAuthSession, getAuthErrorCode, memoryStore } from '../client/index.js';
import { parseToken } from '../shared/index.js';
import { accepts, expectAuthError, registerConfirmed } from './harness/flows.js';
import { describeOnEachDatabase } from './harness/test-kit.js';
import type { TestDatabase } from './harness/database.js';
import type { TestApp } from './harness/test-kit.js';

/** The default bound: refreshes of one session a 60-second window admits. */
const MAX_PER_WINDOW = 60;

/** `auth.refresh` sent as a client would, for the status and `Retry-After` of a refusal. */
function refreshOverHttp(app: TestApp, refreshToken: string): Promise<Response> {
  return fetch(`${app.url}/auth.refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: { refreshToken } }),
  });
}

type RefreshEnvelope = { result?: { data: { json: { tokens: { refreshToken: string; accessToken: string } } } }; error?: { json: { data: { authCode: string | null } } } };

/** A refresh over HTTP, read: the tokens of a 200, or the status and code of a refusal. */
async function refreshRead(app: TestApp, refreshToken: string): Promise<{ status: number; tokens?: { refreshToken: string; accessToken: string }; authCode: string | null; retryAfter: number | null }> {
  const response = await refreshOverHttp(app, refreshToken);
  const body = (await response.json()) as RefreshEnvelope;
  const retryAfter = response.headers.get('retry-after');
  return { status: response.status, tokens: body.result?.data.json.tokens, authCode: body.error?.json.data.authCode ?? null, retryAfter: retryAfter === null ? null : Number(retryAfter) };
}

/** The row of the session `refreshToken` belongs to. */
async function sessionRow(db: TestDatabase['db'], refreshToken: string) {
  const selector = parseToken('refresh', refreshToken)?.selector ?? '';
  const [row] = await db.select().from(sessionTable).where(eq(sessionTable.refreshSelector, selector));
  assert.ok(row, 'the session exists');
  return row;
}

describeOnEachDatabase('how often one session may refresh', (kit) => {
  it('a holder refreshing in a loop gets the window’s allowance, then RATE_LIMITED: no row, no cache entry, no rotation, and the token still works after the wait', async () => {
    const app = await kit().ownApp();
    const { tokens } = await registerConfirmed(kit(), app);
    let current = tokens.refreshToken;
    const minted = new Set([tokens.accessToken]);
    let refused = 0;
    // A thief (or a broken client) refreshing as fast as it can, always with the newest token.
    for (let attempt = 0; attempt < MAX_PER_WINDOW + 40; attempt++) {
      const response = await refreshOverHttp(app, current);
      if (response.status === 429) {
        refused++;
        assert.equal(response.headers.get('retry-after'), '60', 'the window started with the first refresh and the clock stood still');
        continue;
      }
      assert.equal(response.status, 200);
      const { tokens: next } = ((await response.json()) as { result: { data: { json: { tokens: { refreshToken: string; accessToken: string } } } } }).result.data.json;
      current = next.refreshToken;
      minted.add(next.accessToken);
    }
    assert.equal(refused, 40);
    // Every access token minted is a row and a token-cache entry for five minutes: bounded by the window.
    assert.equal(minted.size, MAX_PER_WINDOW + 1, "the sign-in's and one per admitted refresh");
    const session = await sessionRow(kit().database.db, current);
    const rows = await kit().database.db.select().from(accessTokenTable).where(eq(accessTokenTable.sessionId, session.id));
    assert.equal(rows.length, MAX_PER_WINDOW + 1);
    assert.equal(session.refreshesInWindow, MAX_PER_WINDOW);
    assert.equal(session.revokedAt, null, 'a refused refresh is no theft');

    // The owner is not logged out: the token the refusals left current refreshes once the window is over.
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: current }), 'RATE_LIMITED');
    app.clock.advanceSeconds(60);
    const { tokens: after } = await app.client().auth.refresh.mutate({ refreshToken: current });
    await app.client(after.accessToken).demo.whoami.query();
    assert.equal((await sessionRow(kit().database.db, current)).refreshesInWindow, 1, 'a new window');
  });

  it('two tabs of one user refreshing at once are never refused within the default', async () => {
    const app = await kit().ownApp();
    const { tokens } = await registerConfirmed(kit(), app);
    let current = tokens.refreshToken;
    // Each round: both tabs present the same token at once; one rotates, the other is a grace retry.
    // Both count, so this fills the window exactly.
    for (let round = 0; round < MAX_PER_WINDOW / 2; round++) {
      const answers = await Promise.all([app.client().auth.refresh.mutate({ refreshToken: current }), app.client().auth.refresh.mutate({ refreshToken: current })]);
      assert.equal(answers[0].tokens.refreshToken, answers[1].tokens.refreshToken, 'both tabs converge on one successor');
      current = answers[0].tokens.refreshToken ?? '';
    }
    assert.equal((await sessionRow(kit().database.db, current)).refreshesInWindow, MAX_PER_WINDOW);
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: current }), 'RATE_LIMITED');
  });

  it('a full window refuses rotations but not grace retries, and reuse is still reuse', async () => {
    const app = await kit().ownApp();
    const { tokens } = await registerConfirmed(kit(), app);
    const chain = [tokens.refreshToken];
    for (let refresh = 0; refresh < MAX_PER_WINDOW; refresh++) {
      const { tokens: next } = await app.client().auth.refresh.mutate({ refreshToken: chain.at(-1) ?? '' });
      chain.push(next.refreshToken ?? '');
    }
    const [older, previous, current] = chain.slice(-3) as [string, string, string];
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: current }), 'RATE_LIMITED');
    // A tab that lost the last answer still gets it: refusing it would send it back after the grace
    // window with a token then taken for a thief's.
    const { tokens: retried } = await app.client().auth.refresh.mutate({ refreshToken: previous });
    assert.equal(retried.refreshToken, current);
    assert.equal((await sessionRow(kit().database.db, current)).refreshesInWindow, MAX_PER_WINDOW + 1, 'counted all the same');
    // A token the session has moved past ends it, full window or not.
    app.clock.advanceSeconds(11);
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: older }), 'REFRESH_TOKEN_REUSED');
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: current }), 'TOKEN_REVOKED');
  });

  it('the client SDK keeps its tokens on RATE_LIMITED and sends no refresh before Retry-After', async () => {
    const app = await kit().ownApp({ refreshLimit: { maxPerWindow: 1, windowSeconds: 600 } });
    const { tokens } = await registerConfirmed(kit(), app);
    const store = memoryStore();
    await store.set(tokens);
    let sent = 0;
    const session = createAuthSession({
      store,
      now: () => app.clock.now(),
      refresh: (refreshToken, { signal }) => {
        sent++;
        return app
          .client()
          .auth.refresh.mutate({ refreshToken: refreshToken ?? undefined }, { signal })
          .then((answer) => answer.tokens);
      },
    });
    try {
      await session.ready;
      // Due for a refresh 30 s before the access token's end: the window's one refresh.
      app.clock.advanceSeconds(280);
      assert.notEqual(await session.accessToken(), tokens.accessToken);
      app.clock.advanceSeconds(280);
      await assert.rejects(session.accessToken(), (error) => getAuthErrorCode(error) === 'RATE_LIMITED');
      assert.equal(sent, 2);
      assert.equal(session.getState().status, 'signed-in', 'a refusal to rotate is no sign-out');
      // Within Retry-After (320 s): the token in hand while it lasts, then the refusal, neither sent.
      assert.ok(await session.accessToken());
      app.clock.advanceSeconds(30);
      await assert.rejects(session.accessToken(), (error) => getAuthErrorCode(error) === 'RATE_LIMITED');
      assert.equal(sent, 2);
      // Past it, the refresh token the refusal left current rotates.
      app.clock.advanceSeconds(291);
      const fresh = await session.accessToken();
      assert.equal(sent, 3);
      assert.ok(fresh);
      await app.client(fresh).demo.whoami.query();
    } finally {
      await session.close();
    }
  });

  it('the window is counted on the session, so two nodes do not grant twice the allowance', async () => {
    // Two nodes on one database and one clock.
    const nodeA = await kit().variant({ refreshLimit: { maxPerWindow: 4, windowSeconds: 30 } });
    const nodeB = await kit().variant({ refreshLimit: { maxPerWindow: 4, windowSeconds: 30 } });
    const { tokens } = await registerConfirmed(kit(), nodeA);
    let current = tokens.refreshToken;
    for (const node of [nodeA, nodeB, nodeA, nodeB]) current = (await node.client().auth.refresh.mutate({ refreshToken: current })).tokens.refreshToken ?? '';
    for (const node of [nodeA, nodeB]) {
      const response = await refreshOverHttp(node, current);
      assert.equal(response.status, 429);
      assert.equal(response.headers.get('retry-after'), '30');
    }
    kit().clock.advanceSeconds(30);
    await nodeB.client().auth.refresh.mutate({ refreshToken: current });
  });

  it('a thief looping rotations and grace retries mints maxPerWindow + 20 access tokens a window at most, and one retry more ends the session', async () => {
    const app = await kit().ownApp({ refreshLimit: { maxPerWindow: 4, windowSeconds: 600 } });
    const { tokens } = await registerConfirmed(kit(), app);
    let current = tokens.refreshToken;
    let previous = current;
    const minted = new Set<string>();
    /** One window: rotations while the window admits them, then retries of the token replaced last. */
    async function oneWindow(retries: number): Promise<string | null> {
      for (;;) {
        const answer = await refreshRead(app, current);
        if (answer.status === 429) break;
        assert.ok(answer.tokens, `a rotation answered ${answer.status}`);
        previous = current;
        current = answer.tokens.refreshToken;
        minted.add(answer.tokens.accessToken);
      }
      for (let retry = 0; retry < retries; retry++) {
        const answer = await refreshRead(app, previous);
        if (!answer.tokens) return answer.authCode;
        assert.equal(answer.tokens.refreshToken, current, 'a grace retry answers the successor');
        minted.add(answer.tokens.accessToken);
      }
      return null;
    }
    // A careful thief stops at the retries' bound, and starts again each window.
    assert.equal(await oneWindow(20), null);
    assert.equal(minted.size, 4 + 20);
    app.clock.advanceSeconds(600);
    assert.equal(await oneWindow(21), 'REFRESH_TOKEN_REUSED', 'the 21st retry of one replaced token is taken for a thief');
    assert.equal(minted.size, 2 * (4 + 20));
    for (const accessToken of [...minted].slice(-3)) assert.equal(await accepts(app, accessToken), false);
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: current }), 'TOKEN_REVOKED');
  });

  it("a holder of the replaced token can fill the window with grace retries, but not keep it full: the owner refreshes once it ends", async () => {
    const app = await kit().ownApp({ refreshLimit: { maxPerWindow: 4, windowSeconds: 600 } });
    const { tokens } = await registerConfirmed(kit(), app);
    const stolen = tokens.refreshToken;
    const { tokens: owned } = await app.client().auth.refresh.mutate({ refreshToken: stolen });
    const ownerToken = owned.refreshToken ?? '';
    for (let retry = 0; retry < 3; retry++) assert.equal((await refreshRead(app, stolen)).status, 200);
    const refused = await refreshRead(app, ownerToken);
    assert.equal(refused.authCode, 'RATE_LIMITED');
    assert.ok(refused.retryAfter !== null && refused.retryAfter <= 600, `Retry-After ${refused.retryAfter}`);
    // More retries only count: the window still ends when it began plus its length.
    app.clock.advanceSeconds(5);
    for (let retry = 0; retry < 5; retry++) assert.equal((await refreshRead(app, stolen)).status, 200);
    app.clock.advanceSeconds(595);
    const { tokens: after } = await app.client().auth.refresh.mutate({ refreshToken: ownerToken });
    await app.client(after.accessToken).demo.whoami.query();
    // The stolen token is two behind now: reuse, as before the bound.
    assert.equal((await refreshRead(app, stolen)).authCode, 'REFRESH_TOKEN_REUSED');
  });

  it('a session that expired with its window full answers TOKEN_EXPIRED, not RATE_LIMITED', async () => {
    const app = await kit().ownApp({ refreshLimit: { maxPerWindow: 2, windowSeconds: 600 }, tokens: { refreshTokenTtlSeconds: 120 } });
    const { tokens } = await registerConfirmed(kit(), app);
    let current = tokens.refreshToken;
    for (let refresh = 0; refresh < 2; refresh++) current = (await app.client().auth.refresh.mutate({ refreshToken: current })).tokens.refreshToken ?? '';
    app.clock.advanceSeconds(121);
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: current }), 'TOKEN_EXPIRED');
  });
});
