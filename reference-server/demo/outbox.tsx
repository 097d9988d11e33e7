import { useQuery } from '@tanstack/react-query';
import type { OutboxMail } from '../outbox.js';

/**
 * In development (no SMTP server), the mails the reference server sent, newest first, each link one
 * click away: nobody needs to read the terminal. Shown only when the server says it has an outbox.
 */
export function DevOutbox() {
  const outbox = useQuery({
    queryKey: ['dev-outbox'],
    queryFn: async (): Promise<{ enabled: boolean; mails: OutboxMail[] }> => {
      const response = await fetch('/dev/outbox', { cache: 'no-store' });
      return response.ok ? ((await response.json()) as { enabled: boolean; mails: OutboxMail[] }) : { enabled: false, mails: [] };
    },
    refetchInterval: (query) => (query.state.data?.enabled === false ? false : 2000),
  });
  if (!outbox.data?.enabled) return null;
  return (
    <section aria-label="outbox" className="outbox">
      <strong>Outbox</strong>
      <span className="muted">Development only: the mails this server sent, instead of an SMTP server.</span>
      {outbox.data.mails.length === 0 && <span className="muted">Nothing sent yet.</span>}
      <ul>
        {outbox.data.mails.map((mail) => (
          <li key={`${mail.sentAt}-${mail.to}-${mail.subject}`}>
            <span><strong>{mail.subject}</strong> <span className="muted">to {mail.to}, {new Date(mail.sentAt).toLocaleTimeString()}</span></span>
            {mail.links.map((link) => <a key={link} href={link}>{linkLabel(link)}</a>)}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** "Open the confirmation link" rather than a long URL with a token in it. */
function linkLabel(link: string): string {
  const path = new URL(link).pathname;
  const labels: Record<string, string> = {
    '/confirm-email': 'Open the confirmation link',
    '/reset-password': new URL(link).searchParams.has('token') ? 'Open the reset link' : 'Open the reset page',
    '/magic-link': 'Open the sign-in link',
    '/accept-invite': 'Open the invitation',
  };
  return labels[path] ?? link;
}
