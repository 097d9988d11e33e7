import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { getAuthErrorCode } from '../../client/index.js';
import { useAuth, useAuthClient } from '../../client/react/index.js';
import type { ReferenceRouter } from '../server.js';

/** The message a failed call shows: its auth code when it has one. */
function describe(error: unknown): string {
  return getAuthErrorCode(error) ?? (error instanceof Error ? error.message : String(error));
}

function Form(props: { title: string; submit: string; onSubmit: (fields: Record<string, string>) => Promise<unknown>; children?: ReactNode; name: string }) {
  const action = useMutation({ mutationFn: props.onSubmit });
  function handle(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    action.mutate(Object.fromEntries(new FormData(event.currentTarget)) as Record<string, string>);
  }
  return (
    <form onSubmit={handle} aria-label={props.name}>
      <strong>{props.title}</strong>
      {props.children}
      <button disabled={action.isPending}>{props.submit}</button>
      {action.isError && <span className="error">{describe(action.error)}</span>}
      {action.isSuccess && <span className="muted">Done.</span>}
    </form>
  );
}

/** A mailed link only shows a form: a mail scanner that opens it spends nothing. The form posts. */
function Landing(props: { path: string; token: string }) {
  const { confirmEmail, verifyMagicLink, acceptInvite, trpc } = useAuth<ReferenceRouter>();
  const { token } = props;
  const leave = () => history.replaceState(null, '', `/${location.search.includes('tokens=local') ? '?tokens=local' : ''}`);
  switch (props.path) {
    case '/confirm-email':
      return (
        <Form name="confirm" title="Confirm your email address" submit="Confirm" onSubmit={async ({ password = '' }) => { await confirmEmail({ token, ...(password ? { password } : {}) }); leave(); }}>
          <input name="password" type="password" placeholder="the password you chose at sign-up" />
        </Form>
      );
    case '/magic-link':
      return <Form name="magic link" title="Sign in with your link" submit="Sign in" onSubmit={async () => { await verifyMagicLink(token); leave(); }} />;
    case '/accept-invite':
      return (
        <Form name="accept invitation" title="Accept your invitation" submit="Create my account" onSubmit={async ({ password = '', username = '' }) => { await acceptInvite({ token, password, ...(username ? { username } : {}) }); leave(); }}>
          <input name="username" placeholder="username (optional)" />
          <input name="password" type="password" placeholder="password (12 characters or more)" required />
        </Form>
      );
    default:
      return (
        <Form name="reset" title="Choose a new password" submit="Set password" onSubmit={async ({ password = '' }) => { await trpc.auth.resetPassword.mutate({ token, password }); leave(); }}>
          <input name="password" type="password" placeholder="new password" required />
        </Form>
      );
  }
}

/** The page a provider sends the browser back to: finishes the flow, then leaves for its return URL. */
function OAuthCallback() {
  const { oauth } = useAuth<ReferenceRouter>();
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    oauth.complete().then(
      ({ redirectTo }) => history.replaceState(null, '', new URL(redirectTo).pathname),
      (error: unknown) => setFailure(describe(error)),
    );
  }, [oauth]);
  return <p aria-label="oauth callback">{failure ? <span className="error">{failure}</span> : 'Signing in…'}</p>;
}

/** A button per provider the server has (`auth.settings`). */
function ProviderButtons() {
  const { oauth, trpc } = useAuth<ReferenceRouter>();
  const settings = useQuery({ queryKey: ['settings'], queryFn: () => trpc.auth.settings.query() });
  const start = useMutation({ mutationFn: async (provider: string) => location.assign((await oauth.start(provider)).url) });
  if (!settings.data?.providers.length) return null;
  return (
    <section aria-label="providers">
      <strong>Sign in with</strong>
      {settings.data.providers.map((provider) => (
        <button key={provider} onClick={() => start.mutate(provider)} disabled={start.isPending}>{provider}</button>
      ))}
      {start.isError && <span className="error">{describe(start.error)}</span>}
    </section>
  );
}

function SignedOut() {
  const { register, login, trpc } = useAuth<ReferenceRouter>();
  const [registered, setRegistered] = useState<string | null>(null);
  return (
    <>
      <ProviderButtons />
      <Form name="register" title="Register" submit="Register" onSubmit={async ({ email = '', password = '' }) => {
        const { confirmationSent } = await register({ email, password });
        if (confirmationSent) setRegistered(email);
      }}>
        <input name="email" type="email" placeholder="email" required />
        <input name="password" type="password" placeholder="password (12 characters or more)" required />
        {registered && <span>We sent a link to {registered}: open it from the server's outbox (its log shows the link).</span>}
      </Form>
      <Form name="login" title="Log in" submit="Log in" onSubmit={({ identifier = '', password = '' }) => login({ identifier, password })}>
        <input name="identifier" placeholder="email or username" required />
        <input name="password" type="password" placeholder="password" required />
      </Form>
      <Form name="magic link request" title="Sign in without a password" submit="Email me a sign-in link" onSubmit={({ email = '' }) => trpc.auth.magicLink.request.mutate({ email })}>
        <input name="email" type="email" placeholder="email" required />
      </Form>
      <Form name="forgot" title="Forgot your password?" submit="Mail me a reset link" onSubmit={({ email = '' }) => trpc.auth.forgotPassword.mutate({ email })}>
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
  const queryClient = useQueryClient();
  const whoami = useQuery({ queryKey: ['whoami'], queryFn: () => trpc.demo.whoami.query(), enabled: false });
  const sessions = useQuery({ queryKey: ['sessions'], queryFn: () => trpc.auth.sessions.list.query() });
  const revoke = useMutation({
    mutationFn: (sessionId: string) => trpc.auth.sessions.revoke.mutate({ sessionId }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['sessions'] }),
  });
  return (
    <>
      <section aria-label="account">
        <strong>Signed in as {user?.email ?? '…'}</strong>
        <TokenLife />
        <div>
          <button onClick={() => void whoami.refetch()}>Call demo.whoami</button> <button onClick={() => void logout()}>Log out</button>
        </div>
        {whoami.data && <pre data-testid="whoami">{JSON.stringify(whoami.data, null, 2)}</pre>}
        {whoami.isError && <span className="error">{describe(whoami.error)}</span>}
      </section>
      <section aria-label="sessions">
        <strong>Your sessions</strong>
        <table>
          <thead>
            <tr><th>started</th><th>last used</th><th>browser</th><th /></tr>
          </thead>
          <tbody>
            {sessions.data?.map((session) => (
              <tr key={session.id}>
                <td>{session.createdAt.toLocaleString()}</td>
                <td>{session.lastUsedAt.toLocaleString()}</td>
                <td className="muted">{session.userAgent?.slice(0, 40) ?? '—'}</td>
                <td>{session.current ? 'this one' : <button onClick={() => revoke.mutate(session.id)}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

export function App(props: { tokensInStorage: boolean }) {
  const { status } = useAuth<ReferenceRouter>();
  const token = new URLSearchParams(location.search).get('token');
  const landing = token && ['/confirm-email', '/reset-password', '/magic-link', '/accept-invite'].includes(location.pathname);
  return (
    <>
      <h1>trpc-auth-kit</h1>
      <p className="muted">
        Tokens: {props.tokensInStorage ? 'localStorage' : 'cookie mode (the refresh token is in an HttpOnly cookie)'} ·{' '}
        <a href={props.tokensInStorage ? '/' : '/?tokens=local'}>switch</a>
      </p>
      <p data-testid="status">{status}</p>
      {landing && <Landing path={location.pathname} token={token} />}
      {location.pathname === '/oauth/callback' && <OAuthCallback />}
      {status === 'signed-in' && <SignedIn />}
      {status === 'signed-out' && <SignedOut />}
    </>
  );
}
