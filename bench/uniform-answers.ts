import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Whether an answer's timing tells a known address from an unknown one: the median time of
 * `forgotPassword` and of a failed `login` for each, interleaved so noise hits both alike. The
 * server is the reference server (PGlite, dev outbox) in its own process, as a client would meet it:
 * in one process, the client's reading of an answer would wait behind the server's work after it.
 */
export async function uniformAnswerTimes(rounds: number) {
  const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-bench-'));
  const server = spawn(process.execPath, ['--import', 'tsx', 'examples/reference-server/main.ts'], {
    env: { ...process.env, PORT: '0', AUTH_DATA_DIR: dataDir, AUTH_EMAIL_CONFIRMATION: 'off' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(`${match[1]}/trpc`);
    });
    server.once('exit', (code) => reject(new Error(`the reference server exited with ${code}`)));
  });
  const post = async (path: string, input: unknown) => {
    const start = process.hrtime.bigint();
    await (await fetch(`${url}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ json: input }) })).text();
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const pause = () => new Promise((resolve) => setTimeout(resolve, 60));

  // One account per round: the mail cap per address would otherwise stop the mail, and the
  // difference with it.
  const known = Array.from({ length: rounds }, (_, round) => `known-${round}@example.test`);
  for (const email of known) await post('auth.register', { email, password: 'correct horse battery staple' });

  const samples = { forgotKnown: [] as number[], forgotUnknown: [] as number[], loginKnown: [] as number[], loginUnknown: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    // A pause before each: what the previous request left to do after answering is done by then.
    await pause();
    samples.forgotKnown.push(await post('auth.forgotPassword', { email: known[round] }));
    await pause();
    samples.forgotUnknown.push(await post('auth.forgotPassword', { email: `nobody-${round}@example.test` }));
    if (round % 4 === 0) {
      await pause();
      samples.loginKnown.push(await post('auth.login', { identifier: known[round], password: `wrong password ${round}` }));
      await pause();
      samples.loginUnknown.push(await post('auth.login', { identifier: `nobody-${round}@example.test`, password: `wrong password ${round}` }));
    }
  }
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await rm(dataDir, { recursive: true, force: true });
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  return {
    forgotKnownMs: median(samples.forgotKnown),
    forgotUnknownMs: median(samples.forgotUnknown),
    loginKnownMs: median(samples.loginKnown),
    loginUnknownMs: median(samples.loginUnknown),
  };
}
