import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatToken, parseToken } from '../shared/index.js';
import type { TokenKind } from '../shared/index.js';

const parts = { selector: 'AAAAAAAAAAAAAAAA', verifier: 'abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE' };

describe('the token format', () => {
  it('formats a known selector and verifier to a known token', () => {
    // The checksum is CRC-32 (0xc9d03957 here, as node:zlib's crc32 computes it) in six base64url digits.
    assert.equal(formatToken('access', parts), 'at_AAAAAAAAAAAAAAAAabcdefghijklmnopqrstuvwxyz0123456789-_ABCDEDJ0DlX');
  });

  it('parses what it formats, for every kind', () => {
    for (const kind of ['access', 'refresh', 'apiToken', 'link'] satisfies TokenKind[]) {
      assert.deepEqual(parseToken(kind, formatToken(kind, parts)), parts);
    }
  });

  it('refuses a token of another kind', () => {
    assert.equal(parseToken('refresh', formatToken('access', parts)), null);
    assert.equal(parseToken('access', formatToken('apiToken', parts)), null);
  });

  it('refuses any single changed character through the checksum', () => {
    const token = formatToken('refresh', parts);
    for (let i = 3; i < token.length; i++) {
      const changed = token.slice(0, i) + (token[i] === 'x' ? 'y' : 'x') + token.slice(i + 1);
      assert.equal(parseToken('refresh', changed), null, `position ${i}`);
    }
  });

  it('refuses wrong lengths, foreign alphabets and non-strings', () => {
    const token = formatToken('access', parts);
    for (const bad of [token.slice(0, -1), `${token}A`, token.replace('a', '+'), token.replace('a', 'é'), '', 42, null, undefined, {}]) {
      assert.equal(parseToken('access', bad), null);
    }
  });

  it('refuses to format parts of the wrong length', () => {
    assert.throws(() => formatToken('access', { ...parts, selector: 'short' }));
  });
});
