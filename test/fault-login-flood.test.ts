import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { createRateLimiter } from '../server/limits/rate-limits.js';
import { rememberRefusals } from '../server/limits/refusal-memory.js';
import type { PasswordHasher } from '../server/index.js';
import { formatToken } from '../shared/index.js';
import { registerConfirmed } from './harness/flows.js';
import type { Answer } from './harness/named-clients.js';
import { clientFromHeader, mutateAs } from './harness/named-clients.js';
import { countQueries } from './harness/query-counter.js';
import { createTestHasher } from './harness/test-hasher.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp, TestKit } from './harness/test-kit.js';

/*
 * SECURITY.md F10 and F11, short enough for CI: a wrong-password flood over many accounts from many
 * clients, and a flood of made-up well-formed tokens from many clients, each while a signed-in user
 * keeps calling a protected query. What must hold is behaviour: the excess is refused with 429 and
 * `Retry-After` (never a 5xx), hashing never runs beyond its cap, the lockout counts stay exact,
 * and a client refused once costs the database nothing more. Speed is `npm run bench -- --flood`'s.
 */

const WINDOW_SECONDS = 900;

/** A fast hasher whose every call lasts past a turn of the event loop, so that calls overlap, and which counts what runs. */
function watchedHasher() {
  const inner = createTestHasher();
  let running = 0;
  const watched = { mostAtOnce: 0, checkedAgainst: new Map<string, number>() };
  const during = async <T>(work: () => Promise<T>): Promise<T> => {
    running++;
    watched.mostAtOnce = Math.max(watched.mostAtOnce, running);
    try {
      // Other requests in flight reach the bulkhead meanwhile: the cap is what keeps them out.
      await new Promise((resolve) => setImmediate(resolve));
      return await work();
    } finally {
      running--;
    }
  };
  const hasher: PasswordHasher = {
    hash: (password) => during(() => inner.hash(password)),
    verify: (storedHash, password) =>
      during(() => {
        // A check against an account's own hash is a guess the lockout counts; null is the dummy.
        if (storedHash !== null) watched.checkedAgainst.set(storedHash, (watched.checkedAgainst.get(storedHash) ?? 0) + 1);
        return inner.verify(storedHash, password);
      }),
  };
  return { hasher, watched };
}

/** A confirmed account with a password of its own (the test hasher gives equal passwords equal hashes). */
async function confirmedWithOwnPassword(kit: TestKit, app: TestApp) {
  const email = uniqueEmail('flooded');
  const password = `${PASSWORD} ${randomBytes(4).toString('hex')}`;
  await app.client().auth.register.mutate({ email, password });
  const mail = await kit.smtp.waitForMail(email, (received) => received.token !== null);
  await app.client().auth.confirmEmail.mutate({ token: mail.token as string, password });
  return { email, password };
}

/** One protected call over HTTP as `client`. */
async function whoami(app: TestApp, client: string, token: string): Promise<Answer> {
  const response = await fetch(`${app.url}/demo.whoami`, { headers: { authorization: `Bearer ${token}`, 'x-test-client': client } });
  const body = (await response.json()) as { error?: { json: { data: { authCode: string | null } } } };
  const retryAfter = response.headers.get('retry-after');
  return { status: response.status, retryAfter: retryAfter === null ? null : Number(retryAfter), authCode: body.error?.json.data.authCode ?? null, data: undefined };
}

/**
 * Runs calls made by `next`, `concurrency` at a time, while `victim` loops: `attempts` of them, or
 * fewer once `enough()` says the flood has done what it is for; both bounded in count.
 */
async function flood(options: { attempts: number; concurrency: number; next: (index: number) => Promise<Answer>; victim: () => Promise<Answer>; enough?: () => boolean }) {
  const answers: Answer[] = [];
  const victimAnswers: Answer[] = [];
  let sent = 0;
  const loops = Array.from({ length: options.concurrency }, async () => {
    while (sent < options.attempts && !options.enough?.()) answers.push(await options.next(sent++));
  });
  const done = Promise.all(loops);
  let flooding = true;
  void done.finally(() => (flooding = false));
  // At least a few protected calls, and then as many as the flood lasts.
  while (flooding || victimAnswers.length < 5) victimAnswers.push(await options.victim());
  await done;
  return { answers, victimAnswers };
}

const isRateLimited = (answer: Answer) => answer.status === 429 && answer.authCode === 'RATE_LIMITED' && (answer.retryAfter ?? 0) >= 1;

describeOnEachDatabase('F10 and F11: floods of guesses and of made-up tokens', (kit) => {
  it('F10: wrong passwords over many accounts from many clients: 429 past the limits, never a 5xx, hashing within its cap, lockout counts exact', async () => {
    const strangersShare = 6;
    const { hasher, watched } = watchedHasher();
    const app = await kit().variant({
      passwordHasher: hasher,
      clientIp: clientFromHeader,
      password: { maxConcurrentHashes: 2, maxQueuedHashes: 8, maxHashesPerClient: 2 },
      rateLimits: { loginFailuresPerAccount: 2 * strangersShare, loginFailuresPerAccountFromUnknownClients: strangersShare, failuresPerIp: 30 },
    });
    const accounts = await Promise.all(Array.from({ length: 8 }, () => confirmedWithOwnPassword(kit(), app)));
    const owner = accounts[0] as (typeof accounts)[number];
    // The owner's own client is known to the account from this sign-in on.
    const ownerLogin = await mutateAs(app, 'owner', { path: 'auth.login', input: { identifier: owner.email, password: owner.password } });
    assert.equal(ownerLogin.status, 200);
    const ownerToken = (ownerLogin.data as { tokens: { accessToken: string } }).tokens.accessToken;
    const hashes = new Set(watched.checkedAgainst.keys());
    watched.checkedAgainst.clear();

    const clients = Array.from({ length: 16 }, (_, index) => `guesser-${index}`);
    // Guesses each account's own hash was checked against, so far.
    const checkedCounts = () => [...watched.checkedAgainst].filter(([hash]) => hashes.has(hash)).map(([, count]) => count);
    const { answers, victimAnswers } = await flood({
      // Which guesses get a hashing turn depends on timing: the flood goes on until every account's
      // share is spent (what the limits must then hold to), within a bound.
      attempts: 2000,
      enough: () => checkedCounts().length === accounts.length && checkedCounts().every((count) => count >= strangersShare),
      concurrency: 24,
      next: (index) =>
        mutateAs(app, clients[index % clients.length] as string, {
          path: 'auth.login',
          input: { identifier: (accounts[index % accounts.length] as (typeof accounts)[number]).email, password: `guess ${index}` },
        }),
      victim: () => whoami(app, 'owner', ownerToken),
    });

    assert.deepEqual(answers.filter((answer) => answer.status >= 500), []);
    assert.deepEqual(answers.filter((answer) => answer.authCode !== 'INVALID_CREDENTIALS' && !isRateLimited(answer)), []);
    assert.ok(answers.some(isRateLimited), 'the flood went past the limits');
    assert.ok(victimAnswers.every((answer) => answer.status === 200), victimAnswers.map((answer) => answer.status).join(','));
    assert.ok(watched.mostAtOnce <= 2, `${watched.mostAtOnce} hashes ran at once (maxConcurrentHashes is 2)`);
    // Strangers spent at most their share of each account, and each account was guessed at to the last of it.
    const checked = checkedCounts();
    assert.equal(checked.length, accounts.length);
    assert.deepEqual(checked, checked.map(() => strangersShare));
    // The owner's own client was spared: the right password still signs in, through the flood's window.
    assert.equal((await mutateAs(app, 'owner', { path: 'auth.login', input: { identifier: owner.email, password: owner.password } })).status, 200);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('F11: made-up well-formed tokens from many clients: 429 past each client\'s allowance, a bounded number of queries, the signed-in user served', async () => {
    const perClient = 10;
    const app = await kit().variant({ clientIp: clientFromHeader, rateLimits: { tokenFailuresPerIp: perClient } });
    const user = await registerConfirmed(kit(), app);
    assert.equal((await whoami(app, 'user', user.tokens.accessToken)).status, 200);
    const clients = Array.from({ length: 12 }, (_, index) => `forger-${index}`);
    const madeUp = () => formatToken('access', { selector: randomBytes(12).toString('base64url'), verifier: randomBytes(32).toString('base64url') });

    const queries = countQueries(kit().database.db);
    const { answers, victimAnswers } = await flood({
      attempts: 360,
      concurrency: 12,
      next: (index) => whoami(app, clients[index % clients.length] as string, madeUp()),
      victim: () => whoami(app, 'user', user.tokens.accessToken),
    });
    queries.stop();

    assert.deepEqual(answers.filter((answer) => answer.status >= 500), []);
    const looked = answers.filter((answer) => answer.authCode === 'TOKEN_INVALID').length;
    assert.equal(looked + answers.filter(isRateLimited).length, answers.length);
    assert.ok(looked <= clients.length * perClient, `${looked} made-up tokens were looked up`);
    // A lookup each, and at most an upsert each when the client's tally goes to the shared counter;
    // the refusals none.
    assert.ok(queries.queries <= 2 * looked + clients.length, `${queries.queries} queries for ${looked} lookups`);
    assert.ok(victimAnswers.every((answer) => answer.status === 200), victimAnswers.map((answer) => answer.status).join(','));
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('a client past its sign-up share is refused from memory: no query, and the shared counter keeps the count for every node', async () => {
    const app = await kit().variant({ clientIp: clientFromHeader, signup: { emailConfirmation: 'optional' }, rateLimits: { failuresPerIp: 3 } });
    const { email } = await registerConfirmed(kit(), app);
    const signUp = (client: string) => mutateAs(app, client, { path: 'auth.register', input: { email, password: 'another long passphrase' } });
    assert.deepEqual([(await signUp('prober')).authCode, (await signUp('prober')).authCode, (await signUp('prober')).authCode], ['EMAIL_TAKEN', 'EMAIL_TAKEN', 'EMAIL_TAKEN']);
    assert.equal((await signUp('prober')).authCode, 'RATE_LIMITED');

    const queries = countQueries(kit().database.db);
    const refused = await Promise.all(Array.from({ length: 20 }, () => signUp('prober')));
    queries.stop();
    assert.ok(refused.every(isRateLimited));
    assert.equal(queries.queries, 0, queries.statements.join('\n'));
    // Another node, with nothing in memory, hears from the shared counter that the client is over.
    const otherNode = await kit().variant({ clientIp: clientFromHeader, signup: { emailConfirmation: 'optional' }, rateLimits: { failuresPerIp: 3 } });
    assert.equal((await mutateAs(otherNode, 'prober', { path: 'auth.register', input: { email, password: 'another long passphrase' } })).authCode, 'RATE_LIMITED');
    // Other clients are not held back, and the window's end frees the prober.
    assert.equal((await signUp('someone else')).authCode, 'EMAIL_TAKEN');
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    assert.equal((await signUp('prober')).authCode, 'EMAIL_TAKEN');
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('the memory of refusals is bounded and never outlives the counter\'s window', async () => {
    const db = kit().database.db;
    const clock = kit().clock;
    const limiter = rememberRefusals(createRateLimiter({ db, clock }), { now: () => clock.now(), maxKeys: 2 });
    const limit = { max: 1, windowSeconds: 60 };
    const prefix = `memory-test-${randomBytes(4).toString('hex')}`;
    for (const key of ['a', 'b', 'c']) {
      assert.equal((await limiter.hit(`${prefix}:${key}`, limit)).allowed, true);
      assert.equal((await limiter.hit(`${prefix}:${key}`, limit)).allowed, false);
    }
    const queries = countQueries(db);
    // 'b' and 'c' are remembered; 'a', the oldest of three, was forgotten and asks the counter again.
    assert.equal((await limiter.hit(`${prefix}:c`, limit)).allowed, false);
    assert.equal(queries.queries, 0);
    assert.equal((await limiter.hit(`${prefix}:a`, limit)).allowed, false);
    assert.equal(queries.queries, 1);
    queries.stop();
    // At the window's end the counter decides again, and admits what memory refused.
    clock.advanceSeconds(limit.windowSeconds);
    assert.equal((await limiter.hit(`${prefix}:c`, limit)).allowed, true);
  });
});
