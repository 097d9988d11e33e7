import { useMutation, useQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useState } from 'react';
import { useAuth, useAuthClient } from '../../client/react/index.js';
import type { AuthChange } from '../../client/index.js';
import type { ReferenceRouter } from '../server.js';
import { Form } from './form.js';
import { LANDING_PATHS, Landing } from './landing.js';
import { messageFor } from './messages.js';
import { DevOutbox } from './outbox.js';
import { Sessions } from './sessions.js';
import { homeUrl } from './token-mode.js';

/** Where the flow was to return, on this page: its path, or the page's home (in its token mode). */
function returnTo(redirectTo: string): string {
  const target = new URL(redirectTo);
  if (target.origin !== location.origin || (target.pathname === '/' && target.search === '' && target.hash === '')) return homeUrl();
  return `${target.pathname}${target.search}${target.hash}`;
}

/**
 * The page a provider sends the browser back to: finishes the flow, and either way takes the code
 * and state out of the address bar (and the history entry) before `onDone` says how it went.
 */
function OAuthCallback(props: { onDone: (failure: string | null) => void }) {
  const { oauth } = useAuth<ReferenceRouter>();
  const { onDone } = props;
  useEffect(() => {
    oauth.complete().then(
      ({ redirectTo }) => {
        history.replaceState(null, '', returnTo(redirectTo));
        onDone(null);
      },
      (error: unknown) => {
        history.replaceState(null, '', homeUrl());
        onDone(messageFor(error));
      },
    );
  }, [oauth, onDone]);
  return <p aria-label="oauth callback" role="status">Signing in with the provider…</p>;
}

/** What the page shows for a provider's name: the usual spelling of the presets' services, else the name as configured. */
const PROVIDER_LABELS: Record<string, string> = { google: 'Google', github: 'GitHub', gitlab: 'GitLab', bitbucket: 'Bitbucket', facebook: 'Facebook' };

/** A button per provider the server has (`auth.settings`). */
function ProviderButtons() {
  const { oauth, trpc } = useAuth<ReferenceRouter>();
  const settings = useQuery({ queryKey: ['settings'], queryFn: () => trpc.auth.settings.query() });
  const start = useMutation({ mutationFn: async (provider: string) => location.assign((await oauth.start(provider)).url) });
  if (!settings.data?.providers.length) return null;
  return (
    <section aria-label="providers">
      <strong>Sign in with a provider</strong>
      {settings.data.providers.map((provider) => (
        <button key={provider} onClick={() => start.mutate(provider)} disabled={start.isPending}>Sign in with {PROVIDER_LABELS[provider] ?? provider}</button>
      ))}
      {start.isError && <span className="error">{messageFor(start.error)}</span>}
    </section>
  );
}

/** "Continue without an account", when the server has anonymous users on (AUTH_ANONYMOUS=on). */
function ContinueAnonymously() {
  const { signInAnonymously, trpc } = useAuth<ReferenceRouter>();
  const settings = useQuery({ queryKey: ['settings'], queryFn: () => trpc.auth.settings.query() });
  const start = useMutation({ mutationFn: () => signInAnonymously() });
  if (!settings.data?.anonymousSignIn) return null;
  return (
    <section aria-label="anonymous">
      <button onClick={() => start.mutate()} disabled={start.isPending}>Continue without an account</button>
      {start.isError && <span className="error">{messageFor(start.error)}</span>}
    </section>
  );
}

function SignedOut() {
  const { register, login, trpc } = useAuth<ReferenceRouter>();
  const [registered, setRegistered] = useState<string | null>(null);
  return (
    <>
      <ProviderButtons />
      <ContinueAnonymously />
      <Form name="register" title="Register" submit="Register" done={registered ? `We sent a confirmation link to ${registered}. Open it (in development, from the outbox on this page) to finish.` : 'Registered.'} onSubmit={async ({ email = '', password = '' }) => {
        const { confirmationSent } = await register({ email, password });
        if (confirmationSent) setRegistered(email);
      }}>
        <input name="email" type="email" placeholder="email" autoComplete="email" required />
        <input name="password" type="password" placeholder="password (12 characters or more)" autoComplete="new-password" required />
      </Form>
      <Form name="login" title="Log in" submit="Log in" onSubmit={({ identifier = '', password = '' }) => login({ identifier, password })}>
        <input name="identifier" placeholder="email or username" autoComplete="username" required />
        <input name="password" type="password" placeholder="password" autoComplete="current-password" required />
      </Form>
      <Form name="magic link request" title="Sign in without a password" submit="Email me a sign-in link" done="If an account has this address, a sign-in link is on its way." onSubmit={({ email = '' }) => trpc.auth.magicLink.request.mutate({ email })}>
        <input name="email" type="email" placeholder="email" required />
      </Form>
      <Form name="forgot" title="Forgot your password?" submit="Mail me a reset link" done="If an account has this address, a reset link is on its way." onSubmit={({ email = '' }) => trpc.auth.forgotPassword.mutate({ email })}>
        <input name="email" type="email" placeholder="email" required />
      </Form>
    </>
  );
}

/** The access token's remaining life, ticking; the client refreshes it before it runs out. */
function TokenLife() {
  const { accessTokenExpiresAt } = useAuth<ReferenceRouter>();
  const auth = useAuthClient<ReferenceRouter>();
  const [now, setNow] = useState(Date.now());
  const [refreshes, setRefreshes] = useState(0);
  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 1000);
    const stop = auth.onChange((_, change) => change.type === 'refreshed' && setRefreshes((count) => count + 1));
    return () => {
      clearInterval(tick);
      stop();
    };
  }, [auth]);
  const seconds = accessTokenExpiresAt ? Math.max(0, Math.round((accessTokenExpiresAt.getTime() - now) / 1000)) : 0;
  return (
    <p aria-label="token life">
      Access token: <strong>{seconds} s</strong> left · silent refreshes so far: <strong data-testid="refreshes">{refreshes}</strong>
    </p>
  );
}

function SignedIn() {
  const { user, trpc, logout } = useAuth<ReferenceRouter>();
  const whoami = useQuery({ queryKey: ['whoami'], queryFn: () => trpc.demo.whoami.query(), enabled: false });
  return (
    <>
      <section aria-label="account">
        <strong>{user?.isAnonymous ? 'Signed in without an account (add an address to keep it)' : `Signed in as ${user?.email ?? '…'}`}</strong>
        <TokenLife />
        <div>
          <button onClick={() => void whoami.refetch()}>Call demo.whoami</button> <button onClick={() => void logout()}>Log out</button>
        </div>
        {whoami.data && <pre data-testid="whoami">{JSON.stringify(whoami.data, null, 2)}</pre>}
        {whoami.isError && <span className="error">{messageFor(whoami.error)}</span>}
      </section>
      <Sessions />
    </>
  );
}

/** Why the page signed out without being asked to, in words; null when the user signed out. */
function signedOutBecause(change: AuthChange | { type: 'user' }): string | null {
  if (change.type !== 'signed-out' || change.reason === 'signed-out') return null;
  if (change.reason === 'other-tab') return 'You signed out in another tab.';
  if (change.code === 'REFRESH_TOKEN_REUSED') return 'You were signed out: this session’s token was used twice, which happens when someone else has a copy of it. Log in again.';
  if (change.code === 'TOKEN_EXPIRED') return 'Your session expired. Log in again.';
  return 'You were signed out: this session was ended, from another of your sessions or by a password change. Log in again.';
}

export function App(props: { tokensInStorage: boolean }) {
  const { status } = useAuth<ReferenceRouter>();
  const auth = useAuthClient<ReferenceRouter>();
  const token = new URLSearchParams(location.search).get('token');
  const [landing, setLanding] = useState(token && LANDING_PATHS.includes(location.pathname) ? { path: location.pathname, token } : null);
  // What a used link leads to next, and why the page signed out by itself; a sign-in clears the second.
  const [next, setNext] = useState<string | null>(null);
  const [signedOutWhy, setSignedOutWhy] = useState<string | null>(null);
  // On the provider's way back, until the flow is finished; then why it failed, if it did.
  const [callback, setCallback] = useState(location.pathname === '/oauth/callback');
  const [oauthFailure, setOAuthFailure] = useState<string | null>(null);
  const finishCallback = useCallback((failure: string | null) => {
    setCallback(false);
    setOAuthFailure(failure);
  }, []);
  useEffect(
    () =>
      auth.onChange((_, change) => {
        if (change.type === 'signed-in') {
          setSignedOutWhy(null);
          setOAuthFailure(null);
        }
        const why = signedOutBecause(change);
        if (why) {
          setSignedOutWhy(why);
          setNext(null);
        }
      }),
    [auth],
  );
  // A used (or dismissed) link's card goes, and the address bar no longer holds its token.
  const leaveLanding = (then: string | null) => {
    history.replaceState(null, '', homeUrl());
    setLanding(null);
    setNext(then);
  };
  return (
    <>
      <h1>trpc-auth-kit</h1>
      <p className="muted">
        Tokens: {props.tokensInStorage ? 'localStorage' : 'cookie mode (the refresh token is in an HttpOnly cookie)'} ·{' '}
        <a href={props.tokensInStorage ? '/' : '/?tokens=local'}>switch</a>
      </p>
      <p data-testid="status" className="status">{status === 'loading' ? 'loading…' : status}</p>
      {signedOutWhy && <p className="notice" role="status">{signedOutWhy}</p>}
      {next && <p className="notice" role="status">{next}</p>}
      {landing && <Landing path={landing.path} token={landing.token} onDone={leaveLanding} onDismiss={() => leaveLanding(null)} />}
      {oauthFailure && <p className="notice error" role="alert">{oauthFailure}</p>}
      {callback && <OAuthCallback onDone={finishCallback} />}
      {status === 'signed-in' && <SignedIn />}
      {status === 'signed-out' && !callback && <SignedOut />}
      <DevOutbox />
    </>
  );
}
