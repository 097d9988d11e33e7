import { z } from 'zod';
import { okOutput, revokeSessionInput, sessionInfoSchema } from '../../shared/schemas.js';
import type { AuthKernel } from '../kernel.js';
import { requireRecentAuth } from '../sessions/recent-auth.js';
import { protectedAuthProcedure, sessionAuthProcedure } from '../trpc.js';

/** `auth.sessions.list`: the caller's live sessions, newest use first; metadata only, never a token. */
export function listSessionsProcedure(kernel: AuthKernel) {
  return protectedAuthProcedure(kernel)
    .output(z.array(sessionInfoSchema))
    .query(({ ctx }) => kernel.sessions.list(ctx.user.id, ctx.session.id));
}

/**
 * `auth.sessions.revoke`: ends one of the caller's sessions; an API token may not. Ending another
 * session than the caller's own needs a recent authentication. Another user's session id, or an
 * unknown one, gets the same answer and changes nothing.
 */
export function revokeSessionProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(revokeSessionInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (input.sessionId !== ctx.session.id) await requireRecentAuth(kernel, ctx, input.password);
      await kernel.sessions.revoke(ctx.user.id, input.sessionId, 'revoked-by-user');
      return { ok: true as const };
    });
}
