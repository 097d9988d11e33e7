import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useAuth } from '../../client/react/index.js';
import type { ReferenceRouter } from '../server.js';
import { messageFor } from './messages.js';

/** Offered where a sign-in needs a confirmed address: mails the confirmation link again. */
export function ResendConfirmation(props: { email: string }) {
  const { trpc } = useAuth<ReferenceRouter>();
  const [email, setEmail] = useState(props.email);
  const resend = useMutation({ mutationFn: () => trpc.auth.resendConfirmation.mutate({ email }) });
  if (resend.isSuccess) return <span className="muted">If {email} has an account, a new confirmation link is on its way.</span>;
  return (
    <span className="inline">
      <input aria-label="address to confirm" type="email" value={email} onChange={(event) => setEmail(event.target.value)} placeholder="your email" />
      <button type="button" disabled={resend.isPending || !email} onClick={() => resend.mutate()}>Mail me the link again</button>
      {resend.isError && <span className="error">{messageFor(resend.error)}</span>}
    </span>
  );
}
