import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import argon2 from 'argon2';
import { apiTokenTable } from '../db/index.js';
import { openTestDatabase } from './harness/database.js';
import { basicHeader, rawRequest } from './harness/raw-http.js';
import { startServer } from './harness/reference-server.js';
import { until } from './harness/poll.js';
import { PASSWORD } from './harness/test-kit.js';

/** Runs `npx trpc-auth-kit <args>` as a user would (from source), with `stdin` piped in. */
function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the CLI (npx trpc-auth-kit)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-cli-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it('--help lists the commands, and each command has its own help', async () => {
    const top = await cli(['--help']);
    assert.equal(top.code, 0);
    for (const command of ['serve', 'migrate', 'hash-secret']) assert.match(top.stdout, new RegExp(`^  ${command}`, 'm'));
    for (const [command, option] of [['serve', '--port'], ['migrate', '--database-url'], ['hash-secret', '--generate']] as const) {
      const help = await cli([command, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`Usage: trpc-auth-kit ${command}`));
      assert.ok(help.stdout.includes(option), help.stdout);
    }
    const unknown = await cli(['frobnicate']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });

  it('hash-secret reads the secret from standard input and prints an argon2id hash of it, newline dropped', async () => {
    const { code, stdout } = await cli(['hash-secret'], { stdin: 'pä:ss wörd\n' });
    assert.equal(code, 0);
    const stored = stdout.trim();
    assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await argon2.verify(stored, 'pä:ss wörd'), true);
    assert.equal(await argon2.verify(stored, 'pä:ss wörd\n'), false);

    const sha = await cli(['hash-secret', '--format', 'sha256'], { stdin: 'a generated secret' });
    assert.equal(sha.stdout.trim(), `sha256:${hash('sha256', 'a generated secret', 'base64url')}`);
  });

  it('hash-secret --generate makes a 256-bit secret and prints it with its sha256: form', async () => {
    const { code, stdout } = await cli(['hash-secret', '--generate']);
    assert.equal(code, 0);
    const [, secret = '', stored = ''] = /^secret: (\S+)\nhash: +(\S+)\n$/.exec(stdout) ?? [];
    assert.equal(Buffer.from(secret, 'base64url').length, 32);
    assert.equal(stored, `sha256:${hash('sha256', secret, 'base64url')}`);
  });

  it('hash-secret --rotate prints the pair to configure during a rotation: the current stored form, then the new one', async () => {
    const current = `sha256:${hash('sha256', 'the old secret', 'base64url')}`;
    const piped = await cli(['hash-secret', '--format', 'sha256', '--rotate', current], { stdin: 'the new secret' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(JSON.parse(piped.stdout), [current, `sha256:${hash('sha256', 'the new secret', 'base64url')}`]);

    const generated = await cli(['hash-secret', '--generate', '--rotate', current]);
    const [, secret = '', pair = ''] = /^secret: (\S+)\nhash: +(\S+)\n$/.exec(generated.stdout) ?? [];
    assert.deepEqual(JSON.parse(pair), [current, `sha256:${hash('sha256', secret, 'base64url')}`]);

    const broken = await cli(['hash-secret', '--rotate', 'sha256:short'], { stdin: 'x' });
    assert.notEqual(broken.code, 0);
    assert.match(broken.stderr, /^hash-secret: --rotate takes the stored form of the current secret: a sha256: secret needs/);
  });

  it('--version prints the version of the package', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    const printed = await cli(['--version']);
    assert.equal(printed.code, 0);
    assert.equal(printed.stdout.trim(), version);
  });

  it('migrate against a database it cannot reach says so in one line, without the password', async () => {
    const refused = await cli(['migrate', '--database-url', 'postgres://someone:hunter2@127.0.0.1:1/app']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim(), 'migrate: could not migrate postgres://***@127.0.0.1:1/app: connect ECONNREFUSED 127.0.0.1:1');
  });

  it('serve refuses a setting that is not a number in one line, naming it', async () => {
    const port = await cli(['serve', '--port', 'abc']);
    assert.equal(port.code, 1);
    assert.equal(port.stderr.trim(), 'serve: PORT must be a whole number, got "abc"');
    const ttl = await cli(['serve'], { env: { AUTH_ACCESS_TTL: 'soon' } });
    assert.equal(ttl.code, 1);
    assert.equal(ttl.stderr.trim(), 'serve: AUTH_ACCESS_TTL must be a whole number of seconds, got "soon"');
  });

  it('hash-secret refuses an empty secret and an unknown format', async () => {
    const empty = await cli(['hash-secret'], { stdin: '' });
    assert.notEqual(empty.code, 0);
    assert.equal(empty.stderr.trim().split('\n').length, 1, 'one line, not the help');
    assert.match(empty.stderr, /standard input was empty: pipe the secret in .* or pass --generate/);
    const format = await cli(['hash-secret', '--format', 'md5'], { stdin: 'x' });
    assert.notEqual(format.code, 0);
    assert.match(format.stderr, /argon2id, sha256/);
  });

  it('migrate creates the tables in a PGlite directory and on PostgreSQL, without printing a password', async () => {
    const dir = await tempDir();
    const local = await cli(['migrate', '--database-url', join(dir, 'pglite')]);
    assert.equal(local.code, 0, local.stderr);
    const pglite = new PGlite(join(dir, 'pglite'));
    const { rows } = await pglite.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'auth_kit' AND table_name = 'auth_api_tokens'");
    await pglite.close();
    assert.equal(rows.length, 1);

    const database = await openTestDatabase('postgres', { migrated: false });
    cleanups.push(() => database.close());
    const remote = await cli(['migrate'], { env: { DATABASE_URL: database.url as string } });
    assert.equal(remote.code, 0, remote.stderr);
    assert.doesNotMatch(remote.stdout, /postgres:postgres@/);
    // The newest table is there (and empty): the query would fail on a database not migrated.
    assert.deepEqual(await database.db.select({ id: apiTokenTable.id }).from(apiTokenTable), []);
  });

  it('serve: curl -u ops:secret invites a user, whose link page does not spend the token, and who then signs in', async () => {
    const dir = await tempDir();
    const opsHash = (await cli(['hash-secret'], { stdin: 'secret' })).stdout.trim();
    const server = await startServer({ AUTH_DATA_DIR: dir, AUTH_BASIC_CLIENTS: JSON.stringify({ admin: { ops: opsHash } }) }, () => {}, ['cli/main.ts', 'serve', '--port', '0']);
    cleanups.push(() => server.stop());

    const email = 'invited-by-curl@example.test';
    const invited = await rawRequest(server.url, { path: '/trpc/auth.invite', headers: [basicHeader('ops', 'secret')], body: JSON.stringify({ json: { email } }) });
    assert.equal(invited.status, 200, invited.body);
    const refused = await rawRequest(server.url, { path: '/trpc/auth.invite', headers: [basicHeader('ops', 'nope')], body: JSON.stringify({ json: { email } }) });
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.header('www-authenticate'), ['Basic realm="admin", charset="UTF-8"']);

    const token = await until(() => /https:\/\/app\.example\.test\/accept-invite\?token=(lk_\S+)/.exec(server.output())?.[1], 'the invitation link in the output');
    assert.ok(token.startsWith('lk_'), server.output());
    assert.equal((await readdir(join(dir, 'outbox'))).length, 1);

    for (let visit = 0; visit < 2; visit++) {
      const page = await fetch(`${server.url}/accept-invite?token=${token}`);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
      // The demo page, which asks before it posts (the browser tests drive it).
      assert.match(await page.text(), /<title>trpc-auth-kit demo<\/title>/);
    }
    const accepted = await fetch(`${server.url}/trpc/auth.acceptInvite`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { token, password: PASSWORD } }),
    });
    assert.equal(accepted.status, 200, await accepted.clone().text());
    const login = await fetch(`${server.url}/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { identifier: email, password: PASSWORD } }),
    });
    assert.equal(login.status, 200);
  });

  it('serve refuses a malformed AUTH_BASIC_CLIENTS at start, naming it', async () => {
    await assert.rejects(startServer({ AUTH_BASIC_CLIENTS: '{"admin": "not an object"}' }, () => {}, ['cli/main.ts', 'serve']), /AUTH_BASIC_CLIENTS must map each realm/);
    await assert.rejects(startServer({ AUTH_BASIC_CLIENTS: '{not json' }, () => {}, ['cli/main.ts', 'serve']), /AUTH_BASIC_CLIENTS must be JSON/);
  });
});
