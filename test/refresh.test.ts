import assert from 'node:assert/strict';
import { it } from 'node:test';
import { eq } from 'drizzle-orm';
import { accessTokenTable, sessionTable } from '../db/index.js';
import { parseToken } from '../shared/index.js';
import { expectAuthError, withBodyRefreshToken, registerConfirmed } from './harness/flows.js';
import { describeOnEachDatabase } from './harness/test-kit.js';

describeOnEachDatabase('refresh tokens', (kit) => {
  it('a refresh rotates the refresh token and issues a working access token', async () => {
    const { tokens } = await registerConfirmed(kit());
    const { tokens: next } = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    assert.notEqual(next.refreshToken, tokens.refreshToken);
    assert.notEqual(next.accessToken, tokens.accessToken);
    assert.equal(next.tokenType, 'Bearer');
    assert.equal(next.accessTokenExpiresAt.getTime(), kit().clock.now() + 300_000);
    await kit().client(next.accessToken).demo.whoami.query();
    const { tokens: third } = await kit().client().auth.refresh.mutate({ refreshToken: next.refreshToken });
    assert.notEqual(third.refreshToken, next.refreshToken);
  });

  it('within the grace window the previous token returns the same successor', async () => {
    const { tokens } = await registerConfirmed(kit());
    const { tokens: first } = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    kit().clock.advanceSeconds(9);
    const { tokens: retry } = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    assert.equal(retry.refreshToken, first.refreshToken);
    // The successor is the one live lineage: it still rotates.
    const { tokens: onward } = await kit().client().auth.refresh.mutate({ refreshToken: first.refreshToken });
    await kit().client(onward.accessToken).demo.whoami.query();
  });

  it('a replaced token retried past 20 times within the grace window is reuse: nobody mints access tokens by the hundred', async () => {
    const { tokens } = await registerConfirmed(kit());
    // A second after the sign-in: its access token was issued before the rotation, not as a retry.
    kit().clock.advanceSeconds(1);
    const { tokens: first } = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    for (let retry = 0; retry < 20; retry++) {
      const { tokens: again } = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
      assert.equal(again.refreshToken, first.refreshToken);
    }
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken }), 'REFRESH_TOKEN_REUSED');
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: first.refreshToken }), 'TOKEN_REVOKED');
  });

  it('the cap on grace retries holds in the last lifetime of a session with an absolute end, where new access tokens end with it', async () => {
    const app = await kit().variant({ tokens: { refreshTokenTtlSeconds: 3600 } });
    const { tokens } = await registerConfirmed(kit(), app);
    // Four minutes before the session's end: every access token issued now ends when the session does.
    kit().clock.advanceSeconds(3360);
    const { tokens: first } = await app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    const sessionId = (await app.auth.verifyAccessToken(first.accessToken))?.sessionId ?? '';
    for (let retry = 0; retry < 20; retry++) await app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken }), 'REFRESH_TOKEN_REUSED');
    const minted = await kit().database.db.select().from(accessTokenTable).where(eq(accessTokenTable.sessionId, sessionId));
    assert.ok(minted.length <= 22, `the sign-in's, the rotation's and 20 retries' access tokens at most, not ${minted.length}`);
  });

  it('concurrent refreshes with one token converge on one successor', async () => {
    const { tokens } = await registerConfirmed(kit());
    const results = await Promise.all(
      Array.from({ length: 5 }, () => kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken })),
    );
    const successors = new Set(results.map((result) => result.tokens.refreshToken));
    assert.equal(successors.size, 1);
    for (const result of results) await kit().client(result.tokens.accessToken).demo.whoami.query();
  });

  it('reuse after the grace window revokes the session: its access tokens and newest refresh token die', async () => {
    const { tokens: r0 } = await registerConfirmed(kit());
    const { tokens: r1 } = await kit().client().auth.refresh.mutate({ refreshToken: r0.refreshToken });
    const { tokens: r2 } = await kit().client().auth.refresh.mutate({ refreshToken: r1.refreshToken });
    kit().clock.advanceSeconds(11);

    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: r0.refreshToken }), 'REFRESH_TOKEN_REUSED');
    await expectAuthError(kit().client(r2.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: r2.refreshToken }), 'TOKEN_REVOKED');

    // The revocation was committed although the reuse call failed.
    const sessionId = (await kit().auth.verifyAccessToken(r2.accessToken))?.sessionId;
    assert.equal(sessionId, undefined);
    const selector = parseToken('refresh', r0.refreshToken)?.selector as string;
    const [session] = await kit().database.db.select().from(sessionTable).where(eq(sessionTable.refreshSelector, selector));
    assert.equal(session?.revokeReason, 'refresh-token-reused');
  });

  it('the previous token presented after its successor moved on is reuse, even inside the window', async () => {
    const { tokens: r0 } = await registerConfirmed(kit());
    const { tokens: r1 } = await kit().client().auth.refresh.mutate({ refreshToken: r0.refreshToken });
    const { tokens: r2 } = await kit().client().auth.refresh.mutate({ refreshToken: r1.refreshToken });
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: r0.refreshToken }), 'REFRESH_TOKEN_REUSED');
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: r2.refreshToken }), 'TOKEN_REVOKED');
  });

  it("with refreshReuseRevokes 'user', reuse ends every session of the user", async () => {
    const app = await kit().variant({ tokens: { refreshReuseRevokes: 'user', refreshGraceSeconds: 0 } });
    const { email, tokens: phone } = await registerConfirmed(kit(), app);
    const { tokens: laptop } = await app.client().auth.login.mutate({ identifier: email, password: 'correct horse battery staple' });
    await app.client().auth.refresh.mutate({ refreshToken: phone.refreshToken });
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: phone.refreshToken }), 'REFRESH_TOKEN_REUSED');
    await expectAuthError(app.client(laptop.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: laptop.refreshToken }), 'TOKEN_REVOKED');
  });

  it('an access token expires after its lifetime, cached or not', async () => {
    const { tokens } = await registerConfirmed(kit());
    await kit().client(tokens.accessToken).demo.whoami.query();
    kit().clock.advanceSeconds(299);
    await kit().client(tokens.accessToken).demo.whoami.query();
    kit().clock.advanceSeconds(1);
    await expectAuthError(kit().client(tokens.accessToken).demo.whoami.query(), 'TOKEN_EXPIRED');
    // Another app on the same database has never seen the token: it reads the row and agrees.
    const fresh = await kit().variant({});
    await expectAuthError(fresh.client(tokens.accessToken).demo.whoami.query(), 'TOKEN_EXPIRED');
  });

  it('a call still in flight with the token a refresh replaced is told TOKEN_EXPIRED, so the client refreshes and replays it', async () => {
    const { tokens } = await registerConfirmed(kit());
    kit().clock.advanceSeconds(300);
    // The client refreshes; a call it sent just before arrives after, at a node that never cached the token.
    const { tokens: first } = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    const otherNode = await kit().variant({});
    await expectAuthError(otherNode.client(tokens.accessToken).demo.whoami.query(), 'TOKEN_EXPIRED');
    // A whole lifetime after it expired, the next refresh deletes its row: a session keeps no trail of them.
    kit().clock.advanceSeconds(300);
    await kit().client().auth.refresh.mutate({ refreshToken: withBodyRefreshToken(first).refreshToken });
    const selectorOf = (token: string) => parseToken('access', token)?.selector ?? '';
    const rows = await kit().database.db.select({ selector: accessTokenTable.selector }).from(accessTokenTable);
    const selectors = new Set(rows.map(({ selector }) => selector));
    assert.equal(selectors.has(selectorOf(tokens.accessToken)), false);
    assert.equal(selectors.has(selectorOf(first.accessToken)), true);
  });

  it('a token issued by one app is honoured by another that shares the database', async () => {
    const { tokens, user } = await registerConfirmed(kit());
    const other = await kit().variant({});
    const whoami = await other.client(tokens.accessToken).demo.whoami.query();
    assert.equal(whoami.userId, user.id);
    assert.equal((await other.auth.verifyAccessToken(tokens.accessToken))?.userId, user.id);
  });

  it('refresh tokens end at the absolute lifetime, however often they rotate', async () => {
    const app = await kit().variant({ tokens: { refreshTokenTtlSeconds: 3600 } });
    let { tokens } = await registerConfirmed(kit(), app);
    assert.equal(tokens.refreshTokenExpiresAt?.getTime(), kit().clock.now() + 3_600_000);
    for (let step = 0; step < 3; step++) {
      kit().clock.advanceSeconds(1100);
      tokens = withBodyRefreshToken((await app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken })).tokens);
    }
    // Access tokens never outlive the session.
    assert.equal(tokens.accessTokenExpiresAt.getTime(), tokens.refreshTokenExpiresAt?.getTime());
    kit().clock.advanceSeconds(300);
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken }), 'TOKEN_EXPIRED');
  });

  it('a session left unused past the idle timeout ends', async () => {
    const app = await kit().variant({ tokens: { refreshIdleTimeoutSeconds: 600 } });
    const { tokens } = await registerConfirmed(kit(), app);
    kit().clock.advanceSeconds(599);
    const { tokens: next } = await app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    kit().clock.advanceSeconds(600);
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: next.refreshToken }), 'TOKEN_EXPIRED');
  });

  it('malformed, unknown and wrong-kind refresh tokens are TOKEN_INVALID and revoke nothing', async () => {
    const { tokens } = await registerConfirmed(kit());
    const flipped = tokens.refreshToken.slice(0, -1) + (tokens.refreshToken.endsWith('A') ? 'B' : 'A');
    for (const refreshToken of ['rt_garbage', flipped, tokens.accessToken, 'x'.repeat(200)]) {
      await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken }), 'TOKEN_INVALID');
    }
    await kit().client(tokens.accessToken).demo.whoami.query();
    await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
  });

  it('a refresh is a mutation: a GET is refused and rotates nothing', async () => {
    const { tokens } = await registerConfirmed(kit());
    const input = encodeURIComponent(JSON.stringify({ json: { refreshToken: tokens.refreshToken } }));
    const response = await fetch(`${kit().url}/auth.refresh?input=${input}`);
    assert.equal(response.status, 405);
    await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
  });

  it('the database holds no token: only hashes of verifiers', async () => {
    const { tokens } = await registerConfirmed(kit());
    const access = parseToken('access', tokens.accessToken);
    const refresh = parseToken('refresh', tokens.refreshToken);
    const sessions = JSON.stringify(await kit().database.db.select().from(sessionTable));
    const accessRows = JSON.stringify(await kit().database.db.select().from(accessTokenTable));
    for (const secret of [tokens.accessToken, tokens.refreshToken, access?.verifier, refresh?.verifier]) {
      assert.ok(!sessions.includes(secret as string) && !accessRows.includes(secret as string));
    }
  });
});
