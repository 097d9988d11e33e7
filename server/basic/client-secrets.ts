import { hash, timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';
import type { HashingTurn } from '../passwords/hashing-turns.js';
import type { RandomSource } from '../deps.js';
import type { ClientSecrets } from './basic-options.js';

/*
 * The forms a Basic client's secret is stored in, each recognisable by its first characters:
 *   - `$argon2id$…`, a PHC string: for a secret a person chose; verified in a hashing turn (behind
 *     the password bulkhead), since each check costs tens of milliseconds;
 *   - `sha256:<base64url digest>`: for a generated secret of 256 random bits, where a slow hash adds
 *     nothing (no dictionary reaches it) and a check costs a microsecond;
 *   - anything else is the secret in clear: accepted, warned about at start.
 * Every comparison is constant-time over equal-length digests, so neither the length of the stored
 * value nor the position of a first wrong character shows in the timing.
 *
 * A client holds one secret, or two while it rotates (the current and the next). A check compares
 * the presented secret with a fixed number of stored forms, the client's and then dummies, and with
 * every one of them even after a match: an unknown client, a client with one secret and a client in
 * mid-rotation cost the same work.
 */

export type SecretFormat = 'argon2id' | 'sha256' | 'cleartext';

export type StoredSecret =
  | { format: 'argon2id'; phc: string }
  | { format: 'sha256'; digest: Buffer }
  | { format: 'cleartext'; digest: Buffer };

const SHA256_PREFIX = 'sha256:';
const DIGEST_BASE64URL = /^[A-Za-z0-9_-]{43}$/;
/** The argon2id parameters of `hash-secret`: OWASP's, as for passwords. */
const ARGON2ID = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

function sha256(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/** Reads a stored secret, or returns why it is not one (a `sha256:` form with a broken digest). */
function readStoredSecret(stored: string): StoredSecret | { error: string } {
  if (stored.startsWith('$argon2')) {
    return stored.startsWith('$argon2id$') ? { format: 'argon2id', phc: stored } : { error: 'only argon2id hashes are accepted' };
  }
  if (stored.startsWith(SHA256_PREFIX)) {
    const encoded = stored.slice(SHA256_PREFIX.length);
    if (!DIGEST_BASE64URL.test(encoded)) return { error: 'a sha256: secret needs the 43-character base64url digest' };
    return { format: 'sha256', digest: Buffer.from(encoded, 'base64url') };
  }
  return { format: 'cleartext', digest: sha256(stored) };
}

/** Reads a client's one or two stored secrets, or returns why one of them is not a secret. */
export function readClientSecrets(stored: ClientSecrets): StoredSecret[] | { error: string } {
  const values: readonly unknown[] = typeof stored === 'string' ? [stored] : stored;
  if (values.length < 1 || values.length > 2) return { error: 'a client holds one secret, or two while it rotates' };
  const secrets: StoredSecret[] = [];
  for (const [index, value] of values.entries()) {
    if (typeof value !== 'string') return { error: `secret ${index + 1} is not a string` };
    const secret = readStoredSecret(value);
    if ('error' in secret) return { error: typeof stored === 'string' ? secret.error : `secret ${index + 1}: ${secret.error}` };
    secrets.push(secret);
  }
  return secrets;
}

/** An argon2id check needs a hashing turn, and nothing else does. */
function argon2Turn(turn: HashingTurn | null): HashingTurn {
  if (!turn) throw new Error('client-secrets: an argon2id secret is checked in a hashing turn');
  return turn;
}

/** Whether `presented` is the secret `stored` stands for; `turn` is the hashing turn an argon2id secret needs. */
async function verifyClientSecret(stored: StoredSecret, presented: string, turn: HashingTurn | null): Promise<boolean> {
  if (stored.format === 'argon2id') return (await argon2Turn(turn).verify(stored.phc, presented)).valid;
  return timingSafeEqual(sha256(presented), stored.digest);
}

const unmatchable = sha256('no client has this secret');

/**
 * The work a check of a secret in `format` costs, spent for a client id that has no secret, so an
 * unknown id answers in the time of a wrong secret. Always false.
 */
async function spendDummyCheck(format: SecretFormat, presented: string, turn: HashingTurn | null): Promise<false> {
  if (format === 'argon2id') await argon2Turn(turn).verify(null, presented);
  else timingSafeEqual(sha256(presented), unmatchable);
  return false;
}

/** The formats a check of `secrets` padded with dummies of `dummyFormat` up to `checks` compares against, in order. */
export function checkedFormats(secrets: readonly StoredSecret[], checks: number, dummyFormat: SecretFormat): SecretFormat[] {
  return Array.from({ length: Math.max(checks, secrets.length) }, (_, index) => secrets[index]?.format ?? dummyFormat);
}

/**
 * Whether `presented` is one of `secrets` (none for an unknown client), after comparing it with
 * every one of them and with dummies of `dummyFormat` up to `checks` forms; `turn` is the hashing
 * turn an argon2id form needs.
 */
export async function matchClientSecret(check: {
  secrets: readonly StoredSecret[];
  presented: string;
  checks: number;
  dummyFormat: SecretFormat;
  turn: HashingTurn | null;
}): Promise<boolean> {
  const { secrets, presented, turn } = check;
  let matched = false;
  for (const [index, format] of checkedFormats(secrets, check.checks, check.dummyFormat).entries()) {
    const secret = secrets[index];
    // No early return: which form matched, and whether one did, must not show in the work done.
    const valid = secret ? await verifyClientSecret(secret, presented, turn) : await spendDummyCheck(format, presented, turn);
    matched ||= valid;
  }
  return matched;
}

/** What `hash-secret` prints: the stored form of `secret`. */
export async function hashClientSecret(secret: string, format: 'argon2id' | 'sha256'): Promise<string> {
  if (format === 'sha256') return SHA256_PREFIX + hash('sha256', secret, 'base64url');
  return argon2.hash(secret, ARGON2ID);
}

/** A new client secret of 256 random bits, base64url. */
export function generateClientSecret(random: RandomSource): string {
  return Buffer.from(random(32)).toString('base64url');
}
