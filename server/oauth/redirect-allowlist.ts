/*
 * Where the browser may be sent once signed in. A `redirectTo` is read against `mail.appUrl` (so
 * `/settings` works) and kept only when its origin is an allowlisted one and its path lies under
 * that entry's path. Refused outright, before any parsing can disagree with a browser's: backslashes
 * (`/\evil.example` is `//evil.example` to a browser), encoded slashes and backslashes, whitespace
 * and control characters. Credentials in the URL (`https://app@evil.example`) are refused too.
 */

const SUSPICIOUS = /[\\\s\p{Cc}]|%2f|%5c/iu;

/** Answers the absolute URL to return to, or null when `redirectTo` is not allowed. */
export function allowedRedirect(redirectTo: string | undefined, policy: { allowlist: readonly string[]; appUrl: string }): string | null {
  if (redirectTo === undefined) return policy.appUrl;
  if (redirectTo.length === 0 || redirectTo.length > 2048 || SUSPICIOUS.test(redirectTo)) return null;
  let url: URL;
  try {
    url = new URL(redirectTo, policy.appUrl);
  } catch {
    return null;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') return null;
  return policy.allowlist.some((entry) => isUnder(url, new URL(entry))) ? url.href : null;
}

function isUnder(url: URL, entry: URL): boolean {
  if (url.origin !== entry.origin) return false;
  const base = entry.pathname.endsWith('/') ? entry.pathname : `${entry.pathname}/`;
  return url.pathname === entry.pathname || url.pathname.startsWith(base);
}
