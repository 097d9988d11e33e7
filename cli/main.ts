#!/usr/bin/env node
/**
 * `npx trpc-auth-kit <command>`: the reference server, migrations, and hashing of Basic client secrets.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { hashClientSecret, generateClientSecret, readClientSecrets } from '../server/basic/client-secrets.js';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { readConfig } from '../reference-server/config.js';
import { startReferenceServer } from '../reference-server/server.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // `echo secret |` and a here-string end in a newline that is not part of the secret.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** The package's version: its package.json is one folder up from the sources, two from the build. */
function packageVersion(): string {
  const candidates = ['../package.json', '../../package.json'].map((path) => new URL(path, import.meta.url));
  const found = candidates.find((url) => existsSync(url));
  return found ? (JSON.parse(readFileSync(found, 'utf8')) as { version: string }).version : 'unknown';
}

/** One line for an error a user can act on: the message, never a stack. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.split('\n')[0] as string;
}

/** Stops with one line on standard error: what went wrong, not the whole help. */
function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const program = new Command()
  .name('trpc-auth-kit')
  .description('Auth procedures for tRPC 11: the reference server and the tools around it.')
  .version(packageVersion())
  .showHelpAfterError();

program
  .command('serve')
  .description('Start the reference server (configured by the environment: PORT, DATABASE_URL, SMTP_URL, AUTH_BASIC_CLIENTS, … see the README).')
  .option('-p, --port <port>', 'port to listen on (overrides PORT)')
  .option('--host <host>', 'address to listen on (overrides HOST)')
  .action(async (options: { port?: string; host?: string }) => {
    let config: ReturnType<typeof readConfig>;
    try {
      config = readConfig({ ...process.env, ...(options.port && { PORT: options.port }), ...(options.host && { HOST: options.host }) });
    } catch (error) {
      fail(`serve: ${oneLine(error)}`);
    }
    const server = await startReferenceServer(config);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => void server.close().then(() => process.exit(0)));
    }
  });

program
  .command('migrate')
  .description("Create or update the kit's tables, then exit.")
  .option('--database-url <url>', 'a postgres:// URL, or a PGlite directory (default: DATABASE_URL, else ./.data/pglite)')
  .action(async (options: { databaseUrl?: string }) => {
    const url = options.databaseUrl ?? (process.env.DATABASE_URL || `${process.env.AUTH_DATA_DIR ?? './.data'}/pglite`);
    // Never print a URL's password.
    const shown = url.replace(/\/\/[^@/]*@/, '//***@');
    try {
      const db = await connectDatabase(url);
      try {
        await migrate(db);
      } finally {
        await closeDatabase(db).catch(() => {});
      }
    } catch (error) {
      fail(`migrate: could not migrate ${shown}: ${oneLine(error)}`);
    }
    console.log(`migrated ${shown}`);
  });

program
  .command('hash-secret')
  .description(
    'Print the stored form of a Basic client secret, to paste into basic.clients or AUTH_BASIC_CLIENTS. ' +
      'Reads the secret from standard input; with --generate (or no input piped in), makes a strong one and prints it too.',
  )
  .option('--generate', 'generate a 256-bit secret instead of reading one')
  .option(
    '--rotate <current>',
    'rotation: print ["<current>","<new>"], the pair to configure while callers move to the new secret (both work); then configure the new one alone',
  )
  .addOption(
    new Option('--format <format>', 'argon2id for a secret a person chose; sha256 for a generated one (default: sha256 when generating, argon2id otherwise)').choices([
      'argon2id',
      'sha256',
    ]),
  )
  .action(async (options: { generate?: boolean; format?: 'argon2id' | 'sha256'; rotate?: string }) => {
    if (options.rotate !== undefined) {
      const current = readClientSecrets(options.rotate);
      if ('error' in current) fail(`hash-secret: --rotate takes the stored form of the current secret: ${current.error}`);
    }
    const generate = options.generate === true || process.stdin.isTTY === true;
    const secret = generate ? generateClientSecret((length) => randomBytes(length)) : await readStdin();
    if (secret === '') fail("hash-secret: standard input was empty: pipe the secret in (printf %s 'the secret' | trpc-auth-kit hash-secret), or pass --generate");
    const hashed = await hashClientSecret(secret, options.format ?? (generate ? 'sha256' : 'argon2id'));
    const stored = options.rotate === undefined ? hashed : JSON.stringify([options.rotate, hashed]);
    if (generate) console.log(`secret: ${secret}\nhash:   ${stored}`);
    else console.log(stored);
  });

await program.parseAsync(process.argv);
