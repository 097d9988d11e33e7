import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { apiTokenTable } from '../db/index.js';
import { ScopeSets } from '../server/cache/scope-sets.js';
import { startTokenCache } from '../server/cache/token-cache.js';
import type { TableEntry } from '../server/cache/table.js';
import { hashToken } from '../server/tokens/secrets.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { PASSWORD, describeOnEachDatabase } from './harness/test-kit.js';
import type { TestApp } from './harness/test-kit.js';
import { until } from './harness/poll.js';

/*
 * What one user can make the server hold: API tokens (capped per user, with the rows of ended ones
 * pruned) and, through their scopes, numbers in the process-wide scope-set registry (reclaimed when
 * no cached token holds them).
 */

describeOnEachDatabase('per-user API token limits', (kit) => {
  async function signedIn(app: TestApp = kit()) {
    const { tokens, user, email } = await registerConfirmed(kit(), app);
    return { client: app.client(tokens.accessToken), userId: user.id, email };
  }

  it('the 101st live token is refused with API_TOKEN_LIMIT_REACHED, and nothing is written; another user is unaffected', async () => {
    const { client, userId } = await signedIn();
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => client.auth.apiTokens.create.mutate({ name: `token ${batch * 10 + i}`, scopes: [`set:${batch * 10 + i}`] })));
    }
    const refused = await expectAuthError(client.auth.apiTokens.create.mutate({ name: 'one too many' }), 'API_TOKEN_LIMIT_REACHED');
    assert.equal(refused.data?.httpStatus, 403);
    const rows = await kit().database.db.select().from(apiTokenTable).where(eq(apiTokenTable.userId, userId));
    assert.equal(rows.length, 100);
    assert.equal((await client.auth.apiTokens.list.query()).length, 100);

    const other = await signedIn();
    await other.client.auth.apiTokens.create.mutate({ name: 'mine' });

    // Revoking one makes room for one.
    const [oldest] = (await client.auth.apiTokens.list.query()).slice(-1);
    await client.auth.apiTokens.revoke.mutate({ id: oldest?.id ?? '' });
    await client.auth.apiTokens.create.mutate({ name: 'in its place' });
    await expectAuthError(client.auth.apiTokens.create.mutate({ name: 'again one too many' }), 'API_TOKEN_LIMIT_REACHED');
  });

  it('concurrent creations cannot pass the cap together', async () => {
    const app = await kit().variant({ apiTokens: { maxPerUser: 5 } });
    const { client } = await signedIn(app);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.auth.apiTokens.create.mutate({ name: `racer ${i}` }).then(
          () => 'made',
          (error: { data?: { authCode?: string } }) => error.data?.authCode ?? 'unknown',
        ),
      ),
    );
    assert.equal(outcomes.filter((outcome) => outcome === 'made').length, 5);
    assert.equal(outcomes.filter((outcome) => outcome === 'API_TOKEN_LIMIT_REACHED').length, 15);
  });

  it('an expired token makes room', async () => {
    const app = await kit().variant({ apiTokens: { maxPerUser: 2 } });
    const { client, email } = await signedIn(app);
    await client.auth.apiTokens.create.mutate({ name: 'short', expiresInDays: 1 });
    await client.auth.apiTokens.create.mutate({ name: 'long' });
    await expectAuthError(client.auth.apiTokens.create.mutate({ name: 'third' }), 'API_TOKEN_LIMIT_REACHED');
    kit().clock.advanceSeconds(86_400 + 1);
    const { tokens } = await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
    await app.client(tokens.accessToken).auth.apiTokens.create.mutate({ name: 'third' });
  });

  it('the rows of ended tokens are pruned, the newest kept, so churning tokens grows nothing', async () => {
    const max = 3;
    const app = await kit().variant({ apiTokens: { maxPerUser: max } });
    const { client, userId } = await signedIn(app);
    let lastRevoked = '';
    for (let round = 0; round < 5; round++) {
      const made = [];
      for (let i = 0; i < max; i++) made.push(await client.auth.apiTokens.create.mutate({ name: `round ${round}`, scopes: [`round:${round}:${i}`] }));
      for (const { id, token } of made) {
        await app.client(token).auth.me.query();
        await client.auth.apiTokens.revoke.mutate({ id });
        lastRevoked = token;
      }
    }
    const rows = await kit().database.db.select().from(apiTokenTable).where(eq(apiTokenTable.userId, userId));
    assert.ok(rows.length <= 2 * max, `${rows.length} rows after making ${5 * max} tokens`);
    await expectAuthError(app.client(lastRevoked).auth.me.query(), 'TOKEN_REVOKED');
  });

  it('maxPerUser and tokenFailuresPerIp must be positive', async () => {
    await assert.rejects(kit().variant({ apiTokens: { maxPerUser: 0 } }), /apiTokens\.maxPerUser/);
    await assert.rejects(kit().variant({ rateLimits: { tokenFailuresPerIp: 0 } }), /rateLimits\.tokenFailuresPerIp/);
  });
});

describe('the scope-set registry', () => {
  const quiet = { info() {}, warn() {}, error() {} };
  const entry = (scopeSet: number, expiresInMs: number, userId = randomUUID()): TableEntry => ({
    tokenHash: hashToken(randomUUID()),
    userId,
    sessionId: randomUUID(),
    expiresAtMs: Date.now() + expiresInMs,
    scopeSet,
  });

  it('cannot be filled by one user: sets no cached token holds are reclaimed, and those in use keep their numbers', async () => {
    const cache = await startTokenCache({ capacity: 1 << 17, listener: null, startTimeoutMs: 10_000, logger: quiet, now: () => Date.now() });
    const scopeSets = new ScopeSets({ setsInUse: () => cache.scopeSetsInUse(), now: () => 0 });
    try {
      const victimSet = scopeSets.intern(['todos:read']) as number;
      const victim = entry(victimSet, 3_600_000);
      cache.fill(victim, cache.revocations);
      await until(() => cache.get(victim.tokenHash), "the victim's entry");

      // One user uses a token with a set of its own, again and again, revoking each.
      const attacker = randomUUID();
      let last: TableEntry | undefined;
      for (let i = 1; scopeSets.size < 0xffff; i++) {
        last = entry(scopeSets.intern([`attacker:${i}`]) as number, 60_000, attacker);
        cache.fill(last, cache.revocations);
      }
      const lastFill = last as TableEntry;
      await until(() => cache.get(lastFill.tokenHash), 'the last fill');
      await cache.forget({ userId: attacker });

      // Full: a new set is not cached for now, and the registry reclaims what nothing holds.
      assert.equal(scopeSets.intern(['newcomer:read']), null);
      // Handed out while the reclaim waits for the worker, so kept, whatever the worker says.
      const kept = scopeSets.intern(['attacker:7']) as number;
      const newcomer = await until(() => scopeSets.intern(['newcomer:read']), 'the reclaim');
      assert.equal(scopeSets.size, 3);
      assert.deepEqual(scopeSets.scopesOf(victimSet), ['todos:read']);
      assert.deepEqual(scopeSets.scopesOf(kept), ['attacker:7']);
      assert.deepEqual(scopeSets.scopesOf(newcomer), ['newcomer:read']);
      assert.ok(![victimSet, kept].includes(newcomer));
      assert.equal(cache.get(victim.tokenHash)?.scopeSet, victimSet);
    } finally {
      await cache.close();
    }
  });

  it('is bounded in memory as well as in numbers: long scope lists fill it sooner, and are reclaimed the same way', async () => {
    const cache = await startTokenCache({ capacity: 1024, listener: null, startTimeoutMs: 10_000, logger: quiet, now: () => Date.now() });
    const scopeSets = new ScopeSets({ setsInUse: () => cache.scopeSetsInUse(), now: () => 0 });
    try {
      // The longest an API token may carry: 32 scopes of 64 characters.
      const longest = (i: number) => Array.from({ length: 32 }, (_, scope) => `${String(i).padStart(8, '0')}:${String(scope).padStart(2, '0')}`.padEnd(64, 'x'));
      let interned = 0;
      while (scopeSets.intern(longest(interned)) !== null) interned++;
      assert.ok(interned > 1000 && interned < 2500, `${interned} sets of 32 long scopes`);
      await until(() => scopeSets.intern(longest(interned)), 'the reclaim');
      assert.equal(scopeSets.size, 1);
    } finally {
      await cache.close();
    }
  });
});
