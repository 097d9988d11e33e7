import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openTestDatabase } from './harness/database.js';
import { call, startServer } from './harness/reference-server.js';
import { startSmtpServer } from './harness/smtp.js';
import { PASSWORD } from './harness/test-kit.js';
import { until } from './harness/poll.js';

describe('the reference server (npm start)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('on PGlite with the dev outbox: sign-up, the mailed link, whoami, and data kept across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-ref-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const server = await startServer({ AUTH_DATA_DIR: dataDir });
    cleanups.push(() => server.stop());

    const page = await fetch(`${server.url}/reset-password?token=lk_whatever`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.match(await page.text(), /trpc-auth-kit/);

    const email = 'ref-user@example.test';
    assert.deepEqual((await call(server, 'auth.register', { input: { email, password: PASSWORD } })).data, { confirmationSent: true });
    const link = await until(() => /https:\/\/app\.example\.test\/confirm-email\?token=(lk_\S+)/.exec(server.output())?.[1], 'the logged link');
    assert.equal((await readdir(join(dataDir, 'outbox'))).length, 1);

    const confirmed = await call(server, 'auth.confirmEmail', { input: { token: link, password: PASSWORD } });
    const tokens = confirmed.data?.tokens as unknown as { accessToken: string };
    const whoami = await call(server, 'demo.whoami', { accessToken: tokens.accessToken });
    assert.equal(whoami.status, 200);
    assert.equal(whoami.data?.userId, (confirmed.data?.user as unknown as { id: string }).id);
    assert.equal((await call(server, 'demo.whoami')).authCode, 'TOKEN_MISSING');

    assert.equal(await server.stop(), 0);
    const again = await startServer({ AUTH_DATA_DIR: dataDir });
    cleanups.push(() => again.stop());
    const login = await call(again, 'auth.login', { input: { identifier: email, password: PASSWORD } });
    assert.equal(login.status, 200);
  });

  it('on PostgreSQL through DATABASE_URL, with the lifetimes from the environment', async () => {
    const database = await openTestDatabase('postgres');
    cleanups.push(() => database.close());
    const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-ref-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const server = await startServer({
      AUTH_DATA_DIR: dataDir,
      DATABASE_URL: database.url as string,
      AUTH_EMAIL_CONFIRMATION: 'off',
      AUTH_ACCESS_TTL: '120',
      AUTH_REFRESH_TTL: '86400',
    });
    cleanups.push(() => server.stop());

    const settings = await call(server, 'auth.settings');
    assert.equal(settings.data?.accessTokenTtlSeconds, 120);
    assert.equal(settings.data?.refreshTokenTtlSeconds, 86400);
    assert.equal(settings.data?.emailConfirmation, 'off');
    const registered = await call(server, 'auth.register', { input: { email: 'pg-user@example.test', password: PASSWORD } });
    assert.equal(registered.status, 200);
  });

  it('with SMTP_URL, every flow mails through that server: confirm, reset, magic link', async () => {
    const smtp = await startSmtpServer();
    cleanups.push(() => smtp.close());
    const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-ref-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const server = await startServer({ AUTH_DATA_DIR: dataDir, SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM: 'auth@app.example.test' });
    cleanups.push(() => server.stop());

    const email = 'smtp-user@example.test';
    await call(server, 'auth.register', { input: { email, password: PASSWORD } });
    const confirm = await smtp.waitForMail(email, (mail) => mail.subject === 'Confirm your email address');
    assert.ok(confirm.body.includes(`https://app.example.test/confirm-email?token=${confirm.token}`));
    assert.equal((await call(server, 'auth.confirmEmail', { input: { token: confirm.token } })).status, 200);

    await call(server, 'auth.forgotPassword', { input: { email } });
    await call(server, 'auth.magicLink.request', { input: { email } });
    const magic = await smtp.waitForMail(email, (mail) => mail.subject === 'Your sign-in link');
    await smtp.waitForMail(email, (mail) => mail.subject === 'Reset your password');
    assert.equal((await call(server, 'auth.magicLink.verify', { input: { token: magic.token } })).status, 200);
    // Nothing went to the outbox.
    await assert.rejects(readdir(join(dataDir, 'outbox')), { code: 'ENOENT' });
  });

  it('refuses a malformed setting at start, naming it', async () => {
    await assert.rejects(startServer({ AUTH_EMAIL_CONFIRMATION: 'sometimes' }), /AUTH_EMAIL_CONFIRMATION must be required, optional or off/);
  });
});
