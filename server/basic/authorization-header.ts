/*
 * Reading `Authorization: Basic <base64(id:secret)>` (RFC 7617) without trusting any of it: the
 * scheme in any case, base64 checked strictly, the bytes decoded as UTF-8 (invalid sequences refused,
 * not replaced), split at the first colon (an id has none; a secret may), and no control characters
 * on either side. Whatever does not fit is `malformed`; nothing here throws.
 */

export type BasicCredentials =
  | { kind: 'credentials'; clientId: string; secret: string }
  /** No Authorization header, or one of another scheme (Bearer): nothing for Basic to judge. */
  | { kind: 'none' }
  | { kind: 'malformed'; reason: string };

/** Far beyond any real id and secret; a longer value is refused before it is decoded. */
const MAX_ENCODED_LENGTH = 4096;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True when the header names the Basic scheme, whatever follows. */
export function isBasicScheme(authorization: string | null): boolean {
  return authorization !== null && /^basic(?:[ \t]|$)/i.test(authorization);
}

export function parseBasicAuthorization(authorization: string | null): BasicCredentials {
  if (!isBasicScheme(authorization)) return { kind: 'none' };
  const encoded = (authorization as string).slice(5).trim();
  if (encoded === '') return { kind: 'malformed', reason: 'no credentials after the Basic scheme' };
  if (encoded.length > MAX_ENCODED_LENGTH) return { kind: 'malformed', reason: 'credentials too long' };
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return { kind: 'malformed', reason: 'credentials are not base64' };
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return { kind: 'malformed', reason: 'credentials are not UTF-8' };
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'malformed', reason: 'no colon between client id and secret' };
  const clientId = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  if (clientId === '') return { kind: 'malformed', reason: 'empty client id' };
  if (CONTROL.test(decoded)) return { kind: 'malformed', reason: 'control characters in the credentials' };
  return { kind: 'credentials', clientId, secret };
}
