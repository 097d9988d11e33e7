import { createHmac, hash } from 'node:crypto';
import { SELECTOR_LENGTH, VERIFIER_LENGTH } from '../../shared/token-format.js';
import type { TokenParts } from '../../shared/token-format.js';
import type { RandomSource } from '../deps.js';

const SELECTOR_BYTES = (SELECTOR_LENGTH / 4) * 3;
const VERIFIER_BYTES = 32;

function randomBase64url(random: RandomSource, byteLength: number): string {
  return Buffer.from(random(byteLength)).toString('base64url');
}

/** A fresh selector and verifier for a token of any kind, from one draw of the source. */
export function generateTokenParts(random: RandomSource): TokenParts {
  const bytes = Buffer.from(random(SELECTOR_BYTES + VERIFIER_BYTES));
  return { selector: bytes.toString('base64url', 0, SELECTOR_BYTES), verifier: bytes.toString('base64url', SELECTOR_BYTES) };
}

/** A fresh verifier alone: a rotation keeps its session's selector. */
export function generateVerifier(random: RandomSource): string {
  return randomBase64url(random, VERIFIER_BYTES);
}

/** What the database keeps of a verifier: its SHA-256, which a dump cannot turn back into a token. */
export function hashVerifier(verifier: string): string {
  return hash('sha256', verifier, 'base64url');
}

/**
 * The key a whole token is remembered by, in the token cache and the negative caches: its SHA-256,
 * which only the holder of the token can produce.
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'base64url');
}

/** A random UUID (version 4) drawn from the injected source, for user and session ids. */
export function generateId(random: RandomSource): string {
  const bytes = Buffer.from(random(16));
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/*
 * Sealing a refresh successor under its predecessor. After a rotation the session row keeps the
 * successor's verifier XORed with a pad derived from the predecessor's verifier. The client that
 * still holds the predecessor (a lost response, a second tab) can therefore be given the very same
 * successor during the grace window, while the database alone, which keeps only hashes of verifiers,
 * cannot open the seal. Each pad is used once, since every verifier is fresh randomness.
 */
function padFor(predecessorVerifier: string): Buffer {
  return createHmac('sha256', predecessorVerifier).update('trpc-auth-kit refresh successor').digest();
}

export function sealSuccessor(successorVerifier: string, predecessorVerifier: string): string {
  const successor = Buffer.from(successorVerifier, 'base64url');
  const pad = padFor(predecessorVerifier);
  for (let i = 0; i < successor.length; i++) successor[i] = (successor[i] as number) ^ (pad[i] as number);
  return successor.toString('base64url');
}

export function openSuccessor(seal: string, predecessorVerifier: string): string {
  const opened = sealSuccessor(seal, predecessorVerifier);
  if (opened.length !== VERIFIER_LENGTH) throw new Error('openSuccessor: malformed seal');
  return opened;
}
