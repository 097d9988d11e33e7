import { crc32 } from './crc32.js';

/*
 * Every kit token reads `<prefix><selector><verifier><checksum>`:
 *   prefix    names the kind (`at_` access, `rt_` refresh, `pat_` API token, `lk_` mailed link),
 *             so secret scanners recognise it and one kind is never accepted where another is due;
 *   selector  16 base64url chars (96 random bits): the public lookup key;
 *   verifier  43 base64url chars (256 bits): the secret, stored only as its SHA-256;
 *   checksum  6 base64url chars: CRC-32 of everything before it, so a mistyped or made-up token
 *             is refused before any cache or database lookup.
 */

export const TOKEN_PREFIXES = {
  access: 'at_',
  refresh: 'rt_',
  apiToken: 'pat_',
  link: 'lk_',
} as const;

export type TokenKind = keyof typeof TOKEN_PREFIXES;

export const SELECTOR_LENGTH = 16;
export const VERIFIER_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
const BODY_LENGTH = SELECTOR_LENGTH + VERIFIER_LENGTH;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The two halves of a well-formed token. */
export interface TokenParts {
  selector: string;
  verifier: string;
}

function checksumOf(text: string): string {
  const crc = crc32(text);
  let out = '';
  // 32 bits in six 6-bit digits (the top digit carries the last 2 bits).
  for (let shift = 30; shift >= 0; shift -= 6) out += BASE64URL_ALPHABET[(crc >>> shift) & 63];
  return out;
}

/** Joins a selector and a verifier into a token of the given kind. */
export function formatToken(kind: TokenKind, parts: TokenParts): string {
  const { selector, verifier } = parts;
  if (selector.length !== SELECTOR_LENGTH || verifier.length !== VERIFIER_LENGTH) {
    throw new Error('formatToken: selector or verifier has the wrong length');
  }
  const unsigned = TOKEN_PREFIXES[kind] + selector + verifier;
  return unsigned + checksumOf(unsigned);
}

/**
 * Splits a token of the given kind, or returns null when it is not one: wrong prefix, length,
 * alphabet or checksum. Costs well under a microsecond and touches nothing else.
 */
export function parseToken(kind: TokenKind, token: unknown): TokenParts | null {
  const prefix = TOKEN_PREFIXES[kind];
  if (typeof token !== 'string' || token.length !== prefix.length + BODY_LENGTH + CHECKSUM_LENGTH) return null;
  if (!token.startsWith(prefix)) return null;
  const unsigned = token.slice(0, prefix.length + BODY_LENGTH);
  if (!BASE64URL.test(token.slice(prefix.length))) return null;
  if (checksumOf(unsigned) !== token.slice(unsigned.length)) return null;
  return {
    selector: token.slice(prefix.length, prefix.length + SELECTOR_LENGTH),
    verifier: token.slice(prefix.length + SELECTOR_LENGTH, unsigned.length),
  };
}
