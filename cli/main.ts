#!/usr/bin/env node
/**
 * `npx trpc-auth-kit <command>`: the reference server, migrations, and hashing of Basic client secrets.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { hashClientSecret, generateClientSecret } from '../server/basic/client-secrets.js';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { readConfig } from '../examples/reference-server/config.js';
import { startReferenceServer } from '../examples/reference-server/server.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // `echo secret |` and a here-string end in a newline that is not part of the secret.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const program = new Command()
  .name('trpc-auth-kit')
  .description('Auth procedures for tRPC 11: the reference server and the tools around it.')
  .showHelpAfterError();

program
  .command('serve')
  .description('Start the reference server (configured by the environment: PORT, DATABASE_URL, SMTP_URL, AUTH_BASIC_CLIENTS, … see the README).')
  .option('-p, --port <port>', 'port to listen on (overrides PORT)')
  .option('--host <host>', 'address to listen on (overrides HOST)')
  .action(async (options: { port?: string; host?: string }) => {
    const config = readConfig({ ...process.env, ...(options.port && { PORT: options.port }), ...(options.host && { HOST: options.host }) });
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
    const db = await connectDatabase(url);
    try {
      await migrate(db);
    } finally {
      await closeDatabase(db);
    }
    // Never print a URL's password.
    console.log(`migrated ${url.replace(/\/\/[^@/]*@/, '//***@')}`);
  });

program
  .command('hash-secret')
  .description(
    'Print the stored form of a Basic client secret, to paste into basic.clients or AUTH_BASIC_CLIENTS. ' +
      'Reads the secret from standard input; with --generate (or no input piped in), makes a strong one and prints it too.',
  )
  .option('--generate', 'generate a 256-bit secret instead of reading one')
  .addOption(
    new Option('--format <format>', 'argon2id for a secret a person chose; sha256 for a generated one (default: sha256 when generating, argon2id otherwise)').choices([
      'argon2id',
      'sha256',
    ]),
  )
  .action(async (options: { generate?: boolean; format?: 'argon2id' | 'sha256' }) => {
    const generate = options.generate === true || process.stdin.isTTY === true;
    const secret = generate ? generateClientSecret((length) => randomBytes(length)) : await readStdin();
    if (secret === '') program.error('hash-secret: the secret on standard input is empty');
    const stored = await hashClientSecret(secret, options.format ?? (generate ? 'sha256' : 'argon2id'));
    if (generate) console.log(`secret: ${secret}\nhash:   ${stored}`);
    else console.log(stored);
  });

await program.parseAsync(process.argv);
