import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { accessTokenTable, sessionTable } from '../db/index.js';
import { formatToken } from '../shared/index.js';
import type { TokenKind } from '../shared/index.js';
import type { AuthOptions } from '../server/index.js';
import { REFUSED_TOKEN_TTL_MS, RefusedTokens } from '../server/cache/refused-tokens.js';
import { registerConfirmed } from './harness/flows.js';
import { countQueries } from './harness/query-counter.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp } from './harness/test-kit.js';

/*
 * A made-up token with a valid checksum passes every free check, so before these limits each one
 * cost a query (four for confirmEmail), without end. The attacker here is one client sending
 * thousands; the victims are other clients, and users of the attacker's own address whose tokens
 * the cache holds.
 */

const WINDOW_SECONDS = 900;

/** Requests name their client in a header, which the test apps' `clientIp` reads. */
const clientIp: AuthOptions['clientIp'] = (opts) =>
  'headers' in opts.req && !('get' in opts.req.headers) ? String(opts.req.headers['x-test-client'] ?? 'unnamed') : null;

function madeUp(kind: TokenKind): string {
  return formatToken(kind, { selector: randomBytes(12).toString('base64url'), verifier: randomBytes(32).toString('base64url') });
}

interface Answer {
  status: number;
  retryAfter: string | null;
  authCode: string | null;
}

/** One call over HTTP as `client`: a query when there is no body, a mutation otherwise. */
async function call(app: TestApp, request: { client: string; path: string; bearer?: string; body?: unknown }): Promise<Answer> {
  const headers: Record<string, string> = { 'x-test-client': request.client };
  if (request.bearer) headers.authorization = `Bearer ${request.bearer}`;
  const init: RequestInit =
    request.body === undefined ? { headers } : { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ json: request.body }) };
  const response = await fetch(`${app.url}/${request.path}`, init);
  const payload = (await response.json()) as { error?: { json: { data: { authCode: string | null } } } };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), authCode: payload.error?.json.data.authCode ?? null };
}

const whoami = (app: TestApp, client: string, bearer: string) => call(app, { client, path: 'demo.whoami', bearer });

/** The calls that spend a mailed link, each with a made-up token. */
const linkCalls = [
  { path: 'auth.confirmEmail', body: () => ({ token: madeUp('link') }) },
  { path: 'auth.magicLink.verify', body: () => ({ token: madeUp('link') }) },
  { path: 'auth.resetPassword', body: () => ({ token: madeUp('link'), password: 'a new long passphrase' }) },
  { path: 'auth.acceptInvite', body: () => ({ token: madeUp('link'), password: 'a new long passphrase' }) },
];

/** Sends `total` requests made by `next`, `concurrency` at a time, and tallies the answers. */
async function flood(total: number, concurrency: number, next: (index: number) => Promise<Answer>) {
  const answers: Answer[] = [];
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) answers.push(await next(sent++));
    }),
  );
  return {
    answers,
    count: (authCode: string) => answers.filter((answer) => answer.authCode === authCode).length,
  };
}

describeOnEachDatabase('a flood of made-up tokens', (kit) => {
  it('at_ and pat_ tokens from one client: 429 with Retry-After past the limit, a bounded number of queries, other clients unaffected', async () => {
    const limit = 20;
    const app = await kit().variant({ clientIp, rateLimits: { tokenFailuresPerIp: limit } });
    const victim = await registerConfirmed(kit(), app);
    // A user behind the attacker's own address, whose token this node has cached.
    const neighbour = await registerConfirmed(kit(), app);
    assert.equal((await whoami(app, 'victim', victim.tokens.accessToken)).status, 200);
    assert.equal((await whoami(app, 'attacker', neighbour.tokens.accessToken)).status, 200);

    const counter = countQueries(kit().database.db);
    const victimAnswers: Answer[] = [];
    const attack = flood(600, 8, (index) => whoami(app, 'attacker', madeUp(index % 2 === 0 ? 'access' : 'apiToken')));
    // The victim keeps calling while the flood runs.
    let flooding = true;
    const victimLoop = (async () => {
      while (flooding) victimAnswers.push(await whoami(app, 'victim', victim.tokens.accessToken));
    })();
    const { answers, count } = await attack;
    flooding = false;
    await victimLoop;
    const floodQueries = counter.queries;
    counter.stop();

    assert.equal(count('TOKEN_INVALID') + count('RATE_LIMITED'), 600);
    // Counted before they are looked up: eight at a time cannot slip past the limit.
    assert.ok(count('TOKEN_INVALID') <= limit, `${count('TOKEN_INVALID')} lookups for a limit of ${limit}`);
    const limited = answers.filter((answer) => answer.authCode === 'RATE_LIMITED');
    assert.ok(limited.length >= 600 - limit);
    for (const answer of limited) {
      assert.equal(answer.status, 429);
      assert.ok(Number(answer.retryAfter) > 0 && Number(answer.retryAfter) <= WINDOW_SECONDS, `Retry-After: ${answer.retryAfter}`);
    }
    // One lookup per admitted token, and the tally shared in batches of a tenth of the limit.
    assert.ok(floodQueries <= limit + limit / 2, `${floodQueries} queries for 600 made-up tokens`);
    assert.ok(victimAnswers.length > 0 && victimAnswers.every((answer) => answer.status === 200));

    // Still refused, now at no cost at all; the neighbour's cached token still answers.
    const after = countQueries(kit().database.db);
    const more = await flood(100, 4, () => whoami(app, 'attacker', madeUp('access')));
    assert.equal(more.count('RATE_LIMITED'), 100);
    assert.equal(after.queries, 0);
    after.stop();
    assert.equal((await whoami(app, 'attacker', neighbour.tokens.accessToken)).status, 200);

    // Another client signs in here, and on another node, whose token this node has not cached.
    assert.equal((await call(app, { client: 'victim', path: 'auth.login', body: { identifier: victim.email, password: PASSWORD } })).status, 200);
    const otherNode = await kit().variant({ clientIp });
    const signedIn = await otherNode.client().auth.login.mutate({ identifier: victim.email, password: PASSWORD });
    assert.equal((await whoami(app, 'victim', signedIn.tokens.accessToken)).status, 200);

    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    assert.equal((await whoami(app, 'attacker', madeUp('access'))).authCode, 'TOKEN_INVALID');
  });

  it('lk_ tokens at every link-spending call count with the same allowance, and cost a bounded number of queries', async () => {
    const limit = 12;
    const app = await kit().variant({ clientIp, rateLimits: { tokenFailuresPerIp: limit } });
    const counter = countQueries(kit().database.db);
    const { answers, count } = await flood(400, 8, (index) => {
      const { path, body } = linkCalls[index % linkCalls.length] as (typeof linkCalls)[number];
      return call(app, { client: 'attacker', path, body: body() });
    });
    const floodQueries = counter.queries;
    counter.stop();
    assert.ok(count('LINK_INVALID') <= limit, `${count('LINK_INVALID')} lookups for a limit of ${limit}`);
    assert.equal(count('LINK_INVALID') + count('RATE_LIMITED'), 400);
    assert.ok(answers.filter((answer) => answer.authCode === 'RATE_LIMITED').every((answer) => answer.status === 429 && Number(answer.retryAfter) > 0));
    // confirmEmail, the dearest, reads the link and then tries to spend it in a transaction: four statements.
    assert.ok(floodQueries <= 4 * limit + limit, `${floodQueries} queries for 400 made-up link tokens`);

    // A malformed token costs nothing and counts for nothing.
    const free = countQueries(kit().database.db);
    assert.equal((await call(app, { client: 'someone', path: 'auth.confirmEmail', body: { token: `lk_${'A'.repeat(65)}` } })).authCode, 'LINK_INVALID');
    assert.equal(free.queries, 0);
    free.stop();

    // Someone else's real link works meanwhile.
    const email = uniqueEmail('victim');
    await app.client().auth.register.mutate({ email, password: PASSWORD });
    const mail = await kit().smtp.waitForMail(email, (received) => received.token !== null);
    assert.equal((await call(app, { client: 'victim', path: 'auth.confirmEmail', body: { token: mail.token } })).status, 200);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('rt_ tokens: a flood writes nothing of its own and reads a bounded number of rows; a real token still rotates, and reuse is still theft', async () => {
    const limit = 20;
    const app = await kit().variant({ clientIp, rateLimits: { tokenFailuresPerIp: limit } });
    const original = (await registerConfirmed(kit(), app)).tokens.refreshToken;
    assert.ok(original, 'outside cookie mode the refresh token is in the body');
    const refresh = (client: string, refreshToken: string) => call(app, { client, path: 'auth.refresh', body: { refreshToken } });

    const tokenRows = () => Promise.all([kit().database.db.select().from(sessionTable), kit().database.db.select().from(accessTokenTable)]);
    const before = await tokenRows();
    const counter = countQueries(kit().database.db);
    const { answers, count } = await flood(300, 8, () => refresh('attacker', madeUp('refresh')));
    counter.stop();
    assert.equal(count('TOKEN_INVALID') + count('RATE_LIMITED'), 300);
    assert.ok(count('TOKEN_INVALID') <= limit, `${count('TOKEN_INVALID')} lookups for a limit of ${limit}`);
    assert.ok(answers.filter((answer) => answer.authCode === 'RATE_LIMITED').every((answer) => answer.status === 429 && Number(answer.retryAfter) > 0));
    // No session or access-token row changed: the rotation statement an admitted token costs matched nothing.
    assert.deepEqual(await tokenRows(), before);
    const sessionStatements = counter.statements.filter((statement) => /"auth_sessions"/.test(statement));
    // One statement (the rotation, which found no session) per admitted token, nothing for a refused one.
    assert.ok(sessionStatements.length <= limit, `${sessionStatements.length} statements on sessions for 300 made-up refresh tokens`);
    assert.ok(sessionStatements.every((statement) => /^\s*with rotated as \(/i.test(statement)), sessionStatements.join('\n'));
    // The only other writes are the tally's batches (a tenth of the limit each) to the shared counter.
    const otherWrites = counter.statements.filter((statement) => !/"auth_sessions"/.test(statement) && /^\s*(insert|update|delete)\b/i.test(statement));
    assert.ok(otherWrites.every((statement) => /"auth_rate_limits"/.test(statement)), otherWrites.join('\n'));
    assert.ok(otherWrites.length <= limit / (limit / 10), `${otherWrites.length} writes for 300 made-up refresh tokens`);

    // The victim, elsewhere, refreshes as ever: the token rotates.
    const rotated = (await app.client().auth.refresh.mutate({ refreshToken: original })).tokens.refreshToken;
    assert.ok(rotated && rotated !== original);
    // Past the grace window the replaced token is reuse: the session ends, the successor with it.
    kit().clock.advanceSeconds(11);
    assert.equal((await refresh('thief', original)).authCode, 'REFRESH_TOKEN_REUSED');
    assert.equal((await refresh('victim', rotated)).authCode, 'TOKEN_REVOKED');
    // Sent again, by anyone, the reused token is refused from memory (once the owner's warning mail is out of the way).
    await app.auth.settled();
    const repeats = countQueries(kit().database.db);
    for (let client = 0; client < 10; client++) assert.equal((await refresh(`replayer-${client}`, original)).authCode, 'TOKEN_REVOKED');
    assert.equal(repeats.queries, 0);
    repeats.stop();
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('bearer, link and refresh failures share one allowance per client', async () => {
    const app = await kit().variant({ clientIp, rateLimits: { tokenFailuresPerIp: 5 } });
    for (let attempt = 0; attempt < 2; attempt++) assert.equal((await whoami(app, 'mixed', madeUp('access'))).authCode, 'TOKEN_INVALID');
    assert.equal((await call(app, { client: 'mixed', path: 'auth.refresh', body: { refreshToken: madeUp('refresh') } })).authCode, 'TOKEN_INVALID');
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.equal((await call(app, { client: 'mixed', path: 'auth.resetPassword', body: { token: madeUp('link'), password: 'a new long passphrase' } })).authCode, 'LINK_INVALID');
    }
    assert.equal((await whoami(app, 'mixed', madeUp('apiToken'))).authCode, 'RATE_LIMITED');
    assert.equal((await call(app, { client: 'mixed', path: 'auth.magicLink.verify', body: { token: madeUp('link') } })).authCode, 'RATE_LIMITED');
    assert.equal((await call(app, { client: 'mixed', path: 'auth.refresh', body: { refreshToken: madeUp('refresh') } })).authCode, 'RATE_LIMITED');
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('nodes share the count: a client over its allowance on one node is refused on another after one batch', async () => {
    const limit = 10;
    const a = await kit().variant({ clientIp, rateLimits: { tokenFailuresPerIp: limit } });
    const b = await kit().variant({ clientIp, rateLimits: { tokenFailuresPerIp: limit } });
    const onA = await flood(limit + 5, 1, () => whoami(a, 'roaming', madeUp('access')));
    assert.equal(onA.count('TOKEN_INVALID'), limit);
    // A batch is a tenth of the limit: B lets one lookup through, hears the total, and refuses.
    const onB = await flood(5, 1, () => whoami(b, 'roaming', madeUp('access')));
    assert.deepEqual(
      onB.answers.map((answer) => answer.authCode),
      ['TOKEN_INVALID', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED'],
    );
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('a token refused once is refused again from the negative cache, whoever sends it', async () => {
    const app = await kit().variant({ clientIp });
    const unknown = { access: madeUp('access'), apiToken: madeUp('apiToken'), link: madeUp('link') };
    const { tokens } = await registerConfirmed(kit(), app);
    await app.client(tokens.accessToken).auth.logout.mutate();
    const first = countQueries(kit().database.db);
    assert.equal((await whoami(app, 'client-0', unknown.access)).authCode, 'TOKEN_INVALID');
    assert.equal((await whoami(app, 'client-0', unknown.apiToken)).authCode, 'TOKEN_INVALID');
    assert.equal((await whoami(app, 'client-0', tokens.accessToken)).authCode, 'TOKEN_REVOKED');
    assert.equal((await call(app, { client: 'client-0', path: 'auth.resetPassword', body: { token: unknown.link, password: 'a new long passphrase' } })).authCode, 'LINK_INVALID');
    assert.ok(first.queries > 0);
    first.stop();

    const repeats = countQueries(kit().database.db);
    for (let client = 1; client <= 25; client++) {
      assert.equal((await whoami(app, `client-${client}`, unknown.access)).authCode, 'TOKEN_INVALID');
      assert.equal((await whoami(app, `client-${client}`, unknown.apiToken)).authCode, 'TOKEN_INVALID');
      assert.equal((await whoami(app, `client-${client}`, tokens.accessToken)).authCode, 'TOKEN_REVOKED');
      const link = await call(app, { client: `client-${client}`, path: 'auth.resetPassword', body: { token: unknown.link, password: 'a new long passphrase' } });
      assert.equal(link.authCode, 'LINK_INVALID');
    }
    assert.equal(repeats.queries, 0);
    repeats.stop();

    // A refusal is remembered for a while, not for ever.
    kit().clock.advanceSeconds(REFUSED_TOKEN_TTL_MS / 1000 + 1);
    const later = countQueries(kit().database.db);
    assert.equal((await whoami(app, 'client-0', unknown.access)).authCode, 'TOKEN_INVALID');
    assert.ok(later.queries > 0);
    later.stop();
  });

  it('a spent link is refused from the negative cache; a link refused by one call is still good for the one it is for', async () => {
    const app = await kit().variant({ clientIp });
    const { email } = await registerConfirmed(kit(), app);
    const spend = async (token: string) => (await call(app, { client: 'reader', path: 'auth.magicLink.verify', body: { token } })).authCode;
    await app.client().auth.magicLink.request.mutate({ email });
    const link = (await kit().smtp.waitForMail(email, (received) => received.subject === 'Your sign-in link')).token as string;
    assert.equal(await spend(link), null);
    assert.equal(await spend(link), 'LINK_INVALID');
    const repeats = countQueries(kit().database.db);
    assert.equal(await spend(link), 'LINK_INVALID');
    assert.equal(repeats.queries, 0);
    repeats.stop();

    await app.client().auth.forgotPassword.mutate({ email });
    const reset = (await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password')).token as string;
    assert.equal(await spend(reset), 'LINK_INVALID');
    const resetAnswer = await call(app, { client: 'reader', path: 'auth.resetPassword', body: { token: reset, password: 'a new long passphrase' } });
    assert.equal(resetAnswer.status, 200);
  });
});

describe('the negative cache', () => {
  it('holds at most its capacity, forgetting the oldest refusal first', () => {
    const refused = new RefusedTokens<'TOKEN_INVALID'>(3);
    for (const hash of ['a', 'b', 'c', 'd']) refused.remember(hash, 'TOKEN_INVALID', 0);
    assert.equal(refused.size, 3);
    assert.equal(refused.recall('a', 1), undefined);
    assert.equal(refused.recall('d', 1), 'TOKEN_INVALID');
    assert.equal(refused.recall('d', REFUSED_TOKEN_TTL_MS), undefined);
  });
});
