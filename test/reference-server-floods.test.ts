import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatToken } from '../shared/index.js';
import type { TokenKind } from '../shared/index.js';
import { DATABASE_KINDS, openTestDatabase } from './harness/database.js';
import type { TestDatabase } from './harness/database.js';
import { rawRequest } from './harness/raw-http.js';
import { startServer } from './harness/reference-server.js';
import type { RunningServer } from './harness/reference-server.js';
import { startSmtpServer } from './harness/smtp.js';
import type { SmtpServer } from './harness/smtp.js';
import { PASSWORD, uniqueEmail } from './harness/test-kit.js';
import { until } from './harness/poll.js';

/*
 * Issue 10, points 4 to 7 and 9, as an attacker runs them against the reference server itself
 * (`npm start`, in its own process, with its own defaults), over raw HTTP. The server counts clients
 * by their peer address, so each attacker and each victim sends from a loopback address of its own.
 * Each attack is kept short: the point is the bound, which the answers show, not the load.
 */

interface Answer {
  status: number;
  authCode: string | null;
  retryAfter: number | null;
  data: Record<string, unknown> | undefined;
}

/** A client of the server at a loopback address of its own. */
function clientAt(server: RunningServer, address: string) {
  async function send(path: string, request: { input?: unknown; accessToken?: string }): Promise<Answer> {
    const headers = request.accessToken ? [`Authorization: Bearer ${request.accessToken}`] : [];
    const body = request.input === undefined ? undefined : JSON.stringify({ json: request.input });
    const response = await rawRequest(server.url, { path: `/trpc/${path}`, headers, body, from: address });
    const parsed = response.json<{ result?: { data: { json: Record<string, unknown> } }; error?: { json: { data: { authCode: string | null } } } }>();
    const retryAfter = response.header('retry-after')[0];
    return { status: response.status, authCode: parsed.error?.json.data.authCode ?? null, retryAfter: retryAfter === undefined ? null : Number(retryAfter), data: parsed.result?.data.json };
  }
  return {
    mutate: (path: string, input: unknown, accessToken?: string) => send(path, { input, accessToken }),
    query: (path: string, accessToken: string) => send(path, { accessToken }),
  };
}

type Client = ReturnType<typeof clientAt>;

function madeUp(kind: TokenKind): string {
  return formatToken(kind, { selector: randomBytes(12).toString('base64url'), verifier: randomBytes(32).toString('base64url') });
}

/** Runs `attack` on `connections` loops until `victim` is done, and tallies the attackers' answers by code. */
async function during<T>(victim: () => Promise<T>, attack: { connections: number; next: () => Promise<Answer> }) {
  let done = false;
  const answers: Answer[] = [];
  const loops = Array.from({ length: attack.connections }, async () => {
    while (!done) answers.push(await attack.next());
  });
  // The flood is under way once every loop has had an answer.
  await until(() => answers.length >= attack.connections, 'an answer to every loop of the flood', 120_000);
  try {
    return { seen: await victim(), answers };
  } finally {
    done = true;
    await Promise.all(loops);
  }
}

const codes = (answers: readonly Answer[]) => new Set(answers.map((answer) => answer.authCode ?? `HTTP ${answer.status}`));

for (const kind of DATABASE_KINDS) {
  describe(`floods against the reference server [${kind}]`, () => {
    let server: RunningServer;
    let smtp: SmtpServer;
    let database: TestDatabase | undefined;
    let dataDir: string;
    const victimEmail = uniqueEmail('victim');
    let victim: Client;
    let victimToken: string;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'auth-floods-'));
      smtp = await startSmtpServer();
      database = kind === 'postgres' ? await openTestDatabase('postgres', { migrated: false }) : undefined;
      server = await startServer({
        AUTH_DATA_DIR: dataDir,
        AUTH_EMAIL_CONFIRMATION: 'optional',
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        ...(database ? { DATABASE_URL: database.url as string } : {}),
      });
      victim = clientAt(server, '127.0.0.2');
      const registered = await victim.mutate('auth.register', { email: victimEmail, password: PASSWORD });
      assert.equal(registered.status, 200, JSON.stringify(registered));
      victimToken = (registered.data?.tokens as { accessToken: string }).accessToken;
    });
    after(async () => {
      await server?.stop();
      await smtp?.close();
      await database?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('(4) a client flooding what hashes cannot keep the victim from signing in, nor lock the account', async () => {
      const attacker = clientAt(server, '127.0.0.3');
      let sent = 0;
      const attempts = [
        // The review's attack: sign-ups for the victim's address. Here (confirmation optional) the
        // answer names a taken address anyway, so it is refused before any hashing.
        () => attacker.mutate('auth.register', { email: victimEmail, password: `attacker guess ${randomBytes(6).toString('hex')}` }),
        // Each costs a full hash: a sign-in to an account that does not exist.
        () => attacker.mutate('auth.login', { identifier: uniqueEmail('nobody'), password: `attacker guess ${randomBytes(6).toString('hex')}` }),
      ];
      const { seen, answers } = await during(
        async () => {
          const logins: number[] = [];
          for (let login = 0; login < 4; login++) logins.push((await victim.mutate('auth.login', { identifier: victimEmail, password: PASSWORD })).status);
          return logins;
        },
        { connections: 8, next: () => (attempts[sent++ % attempts.length] as () => Promise<Answer>)() },
      );
      assert.deepEqual(seen, [200, 200, 200, 200]);
      // The attacker holds its share of the hashing and is refused beyond it at once; no account was made for it.
      assert.deepEqual([...codes(answers)].sort(), ['EMAIL_TAKEN', 'INVALID_CREDENTIALS', 'RATE_LIMITED']);
      assert.ok(answers.filter((answer) => answer.authCode === 'RATE_LIMITED').every((answer) => answer.status === 429 && (answer.retryAfter ?? 0) > 0));
      // Refusals for load counted against no one: the victim is not locked out afterwards.
      assert.equal((await victim.mutate('auth.login', { identifier: victimEmail, password: PASSWORD })).status, 200);
    });

    it('(5) one client signing in to its own account again and again is bounded per window; others still sign in', async () => {
      const attacker = clientAt(server, '127.0.0.4');
      const email = uniqueEmail('own');
      assert.equal((await attacker.mutate('auth.register', { email, password: PASSWORD })).status, 200);
      let sessions = 1;
      let refused: Answer | undefined;
      while (!refused && sessions <= 80) {
        const batch = await Promise.all([0, 1].map(() => attacker.mutate('auth.login', { identifier: email, password: PASSWORD })));
        sessions += batch.filter((answer) => answer.status === 200).length;
        refused = batch.find((answer) => answer.status !== 200);
      }
      assert.equal(refused?.status, 429, JSON.stringify(refused));
      assert.equal(refused?.authCode, 'RATE_LIMITED');
      assert.ok((refused?.retryAfter ?? 0) > 0);
      assert.ok(sessions <= 60, `${sessions} sessions from one client (rateLimits.sessionsPerIp is 60)`);
      assert.equal((await victim.mutate('auth.login', { identifier: victimEmail, password: PASSWORD })).status, 200);
      assert.equal((await victim.query('demo.whoami', victimToken)).status, 200);
    });

    it('(6) made-up at_, pat_, lk_ and rt_ tokens from one client: a bounded number of lookups, then 429, while the victim is served', async () => {
      const attacker = clientAt(server, '127.0.0.5');
      const attempts = [
        () => attacker.query('demo.whoami', madeUp('access')),
        () => attacker.query('demo.whoami', madeUp('apiToken')),
        () => attacker.mutate('auth.magicLink.verify', { token: madeUp('link') }),
        () => attacker.mutate('auth.refresh', { refreshToken: madeUp('refresh') }),
      ];
      let sent = 0;
      const { seen, answers } = await during(
        async () => {
          const statuses: number[] = [];
          for (let call = 0; call < 20; call++) statuses.push((await victim.query('demo.whoami', victimToken)).status);
          // The flood goes on until it has sent well past the allowance.
          await until(() => sent >= 300, 'the flood to send 300 attempts', 120_000);
          return statuses;
        },
        { connections: 4, next: () => (attempts[sent++ % attempts.length] as () => Promise<Answer>)() },
      );
      assert.ok(seen.every((status) => status === 200), seen.join(','));
      const looked = answers.filter((answer) => answer.authCode === 'TOKEN_INVALID' || answer.authCode === 'LINK_INVALID').length;
      const limited = answers.filter((answer) => answer.authCode === 'RATE_LIMITED');
      assert.equal(looked + limited.length, answers.length, [...codes(answers)].join(', '));
      // rateLimits.tokenFailuresPerIp: 100 lookups a window, counted before they run.
      assert.ok(looked <= 100, `${looked} lookups`);
      assert.ok(limited.length >= answers.length - 100 && limited.every((answer) => answer.status === 429 && (answer.retryAfter ?? 0) > 0));
    });

    it('(7) sign-ups from one client are capped in mail, and a flood of them does not hold back another user\'s reset mail', async () => {
      const attacker = clientAt(server, '127.0.0.6');
      // Someone who has received no mail this hour, so that the per-address cap is not what is tested.
      const owner = clientAt(server, '127.0.0.8');
      const ownerEmail = uniqueEmail('owner');
      assert.equal((await owner.mutate('auth.register', { email: ownerEmail, password: PASSWORD })).status, 200);
      await smtp.waitForMail(ownerEmail);
      // A relay slower than the sign-ups come: the flood's confirmations queue up.
      smtp.setDelayMs(1500);
      try {
        const addresses = Array.from({ length: 34 }, () => uniqueEmail('flood'));
        const flood: Answer[] = [];
        for (const email of addresses) flood.push(await attacker.mutate('auth.register', { email, password: PASSWORD }));
        const mailed = flood.filter((answer) => answer.status === 200).length;
        // rateLimits.mailsPerClientPerHour: 30 calls that mail.
        assert.ok(mailed > 0 && mailed <= 30, `${mailed} sign-ups that mailed`);
        assert.ok(flood.slice(mailed).every((answer) => answer.authCode === 'RATE_LIMITED' && answer.status === 429));

        assert.equal((await owner.mutate('auth.forgotPassword', { email: ownerEmail })).status, 200);
        await smtp.waitForMail(ownerEmail, (mail) => mail.subject === 'Reset your password', 30_000);
        // The kinds take turns: the reset went out while the flood's confirmations still waited.
        const confirmed = addresses.filter((email) => smtp.mailsTo(email).length > 0).length;
        assert.ok(confirmed < mailed, `${confirmed} of ${mailed} confirmations went out before the reset`);
      } finally {
        smtp.setDelayMs(0);
      }
    });

    it('(9) one user cannot mint API tokens without bound', async () => {
      const owner = clientAt(server, '127.0.0.7');
      const email = uniqueEmail('minter');
      const registered = await owner.mutate('auth.register', { email, password: PASSWORD });
      const accessToken = (registered.data?.tokens as { accessToken: string }).accessToken;
      const minted: Answer[] = [];
      for (let token = 0; token < 101; token++) {
        // A distinct scope each: the scope-set registry is bounded through the tokens.
        minted.push(await owner.mutate('auth.apiTokens.create', { name: `token ${token}`, scopes: [`scope:${token}`] }, accessToken));
      }
      assert.ok(minted.slice(0, 100).every((answer) => answer.status === 200), [...codes(minted.slice(0, 100))].join(', '));
      assert.equal(minted[100]?.authCode, 'API_TOKEN_LIMIT_REACHED');
      assert.equal((await victim.query('demo.whoami', victimToken)).status, 200);
    });
  });
}
