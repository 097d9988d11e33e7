import { useMutation } from '@tanstack/react-query';
import type { FormEvent, ReactNode } from 'react';
import { getAuthErrorCode } from '../../client/index.js';
import { messageFor } from './messages.js';
import { ResendConfirmation } from './resend-confirmation.js';

/**
 * A card that posts its fields. A failure shows in words, and one that has a remedy offers it
 * (an unconfirmed address: mail the link again); `done` is what it says once it worked.
 */
export function Form(props: { title: string; submit: string; onSubmit: (fields: Record<string, string>) => Promise<unknown>; children?: ReactNode; name: string; done?: string }) {
  const action = useMutation({ mutationFn: props.onSubmit });
  function handle(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    action.mutate(Object.fromEntries(new FormData(event.currentTarget)) as Record<string, string>);
  }
  const unconfirmed = action.isError && getAuthErrorCode(action.error) === 'EMAIL_NOT_CONFIRMED';
  return (
    <form onSubmit={handle} aria-label={props.name}>
      <strong>{props.title}</strong>
      {props.children}
      <button disabled={action.isPending}>{props.submit}</button>
      {action.isError && <span className="error" role="alert">{messageFor(action.error)}</span>}
      {unconfirmed && <ResendConfirmation email={action.variables?.identifier?.includes('@') ? action.variables.identifier : ''} />}
      {action.isSuccess && <span className="muted">{props.done ?? 'Done.'}</span>}
    </form>
  );
}
