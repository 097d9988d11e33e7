import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useAuth } from '../../client/react/index.js';
import type { ReferenceRouter } from '../server.js';
import { describeDevice, timeAgo } from './devices.js';
import { messageFor } from './messages.js';

/** The account's sessions, the way a settings page lists them: device, when, and a way to end each. */
export function Sessions() {
  const { trpc } = useAuth<ReferenceRouter>();
  const queryClient = useQueryClient();
  const sessions = useQuery({ queryKey: ['sessions'], queryFn: () => trpc.auth.sessions.list.query() });
  const revoke = useMutation({
    mutationFn: (sessionId: string) => trpc.auth.sessions.revoke.mutate({ sessionId }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['sessions'] }),
  });
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(tick);
  }, []);
  return (
    <section aria-label="sessions">
      <strong>Your sessions</strong>
      <table>
        <thead>
          <tr><th>device</th><th>signed in</th><th>last active</th><th /></tr>
        </thead>
        <tbody>
          {sessions.data?.map((session) => (
            <tr key={session.id}>
              <td title={session.userAgent ?? ''}>{describeDevice(session.userAgent)}{session.ip ? <span className="muted"> · {session.ip}</span> : null}</td>
              <td title={session.createdAt.toLocaleString()}>{timeAgo(session.createdAt, now)}</td>
              <td title={session.lastUsedAt.toLocaleString()}>{timeAgo(session.lastUsedAt, now)}</td>
              <td>{session.current ? <span className="muted">this one</span> : <button onClick={() => revoke.mutate(session.id)}>Sign out</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {revoke.isError && <span className="error" role="alert">{messageFor(revoke.error)}</span>}
    </section>
  );
}
