import { useAuth } from '../../client/react/index.js';
import type { ReferenceRouter } from '../server.js';
import { Form } from './form.js';

/** The pages mailed links lead to. */
export const LANDING_PATHS = ['/confirm-email', '/reset-password', '/magic-link', '/accept-invite'];

/**
 * A mailed link only shows a form: a mail scanner that opens it spends nothing. The form posts;
 * once it worked, `onDone` gets what to tell the user next, and the card goes away.
 */
export function Landing(props: { path: string; token: string; onDone: (next: string) => void; onDismiss: () => void }) {
  const { confirmEmail, verifyMagicLink, acceptInvite, trpc } = useAuth<ReferenceRouter>();
  const { token, onDone } = props;
  const card = (() => {
    switch (props.path) {
      case '/confirm-email':
        return (
          <Form name="confirm" title="Confirm your email address" submit="Confirm" onSubmit={async ({ password = '' }) => {
            const user = await confirmEmail({ token, ...(password ? { password } : {}) });
            onDone(password ? `${user.email} is confirmed, and you are signed in.` : `${user.email} is confirmed, and you are signed in. The sign-up password was not given here, so it no longer works: sign in by mailed link, or reset it.`);
          }}>
            <input name="password" type="password" placeholder="the password you chose at sign-up" autoComplete="current-password" />
          </Form>
        );
      case '/magic-link':
        return <Form name="magic link" title="Sign in with your link" submit="Sign in" onSubmit={async () => { const user = await verifyMagicLink(token); onDone(`Your link signed you in to ${user.email}.`); }} />;
      case '/accept-invite':
        return (
          <Form name="accept invitation" title="Accept your invitation" submit="Create my account" onSubmit={async ({ password = '', username = '' }) => {
            const user = await acceptInvite({ token, password, ...(username ? { username } : {}) });
            onDone(`Welcome: the account of ${user.email} is ready, and you are signed in.`);
          }}>
            <input name="username" placeholder="username (optional)" />
            <input name="password" type="password" placeholder="password (12 characters or more)" autoComplete="new-password" required />
          </Form>
        );
      default:
        return (
          <Form name="reset" title="Choose a new password" submit="Set password" onSubmit={async ({ password = '' }) => {
            await trpc.auth.resetPassword.mutate({ token, password });
            onDone('Your new password is set, and every session was signed out: log in with it below.');
          }}>
            <input name="password" type="password" placeholder="new password" autoComplete="new-password" required />
          </Form>
        );
    }
  })();
  return (
    <div className="landing">
      {card}
      <button type="button" className="link" onClick={props.onDismiss}>Not now: back to the start</button>
    </div>
  );
}
