/*
 * What the page remembers in this browser, outside the session itself: the token mode last chosen
 * (a mailed link carries none, so a link opened from the outbox keeps `?tokens=local`), and whether a
 * cookie-mode session was started here (so a signed-out visit does not ask the server, which would
 * answer 401). Neither is a secret, and a wrong guess costs one request.
 */
const MODE_KEY = 'trpc-auth-kit-demo:tokens';
const SESSION_KEY = 'trpc-auth-kit-demo:cookie-session';

/**
 * `?tokens=local`, or, on a page a mailed link opened (it has `?token=`) or a provider sent the
 * browser back to, the mode last used here.
 */
export function chooseTokenMode(): 'local' | 'cookie' {
  const params = new URLSearchParams(location.search);
  if (params.get('tokens') === 'local') {
    localStorage.setItem(MODE_KEY, 'local');
    return 'local';
  }
  const arrived = params.has('token') || location.pathname === '/oauth/callback';
  if (arrived && localStorage.getItem(MODE_KEY) === 'local') {
    params.set('tokens', 'local');
    history.replaceState(null, '', `${location.pathname}?${params.toString()}`);
    return 'local';
  }
  if (!arrived) localStorage.setItem(MODE_KEY, 'cookie');
  return 'cookie';
}

/** Whether a cookie-mode session may still be alive in this browser. */
export function sessionMayResume(): boolean {
  return localStorage.getItem(SESSION_KEY) === '1';
}

export function rememberSession(signedIn: boolean): void {
  if (signedIn) localStorage.setItem(SESSION_KEY, '1');
  else localStorage.removeItem(SESSION_KEY);
}

/** The page's home, in the current token mode. */
export function homeUrl(): string {
  return `/${new URLSearchParams(location.search).get('tokens') === 'local' ? '?tokens=local' : ''}`;
}
