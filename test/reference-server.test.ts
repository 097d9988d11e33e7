import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openTestDatabase } from './harness/database.js';
import { PASSWORD } from './harness/test-kit.js';

/** A running `npm start`: the same entry point, as a child process. */
interface RunningServer {
  process: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<number | null>;
}

async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/reference-server/main.ts'], {
    env: { ...process.env, PORT: '0', APP_URL: 'https://app.example.test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    child.stdout?.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return {
    process: child,
    url,
    output: () => output,
    stop() {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function call(server: RunningServer, path: string, request: { input?: unknown; accessToken?: string } = {}) {
  const { input, accessToken } = request;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const response =
    input === undefined
      ? await fetch(`${server.url}/trpc/${path}`, { headers })
      : await fetch(`${server.url}/trpc/${path}`, { method: 'POST', headers, body: JSON.stringify({ json: input }) });
  const body = (await response.json()) as { result?: { data: { json: Record<string, never> } }; error?: { json: { data: { authCode: string } } } };
  return { status: response.status, data: body.result?.data.json, authCode: body.error?.json.data.authCode };
}

async function waitFor<T>(find: () => T | undefined, what: string): Promise<T> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

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

    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.match(await page.text(), /trpc-auth-kit/);

    const email = 'ref-user@example.test';
    assert.deepEqual((await call(server, 'auth.register', { input: { email, password: PASSWORD } })).data, { confirmationSent: true });
    const link = await waitFor(() => /https:\/\/app\.example\.test\/\?token=(lk_\S+)/.exec(server.output())?.[1], 'the logged link');
    assert.equal((await readdir(join(dataDir, 'outbox'))).length, 1);

    const confirmed = await call(server, 'auth.confirmEmail', { input: { token: link } });
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

  it('refuses a malformed setting at start, naming it', async () => {
    await assert.rejects(startServer({ AUTH_EMAIL_CONFIRMATION: 'sometimes' }), /AUTH_EMAIL_CONFIRMATION must be required, optional or off/);
  });
});
