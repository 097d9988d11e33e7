import { deleteAccountInput } from '../../shared/admin-schemas.js';
import { okOutput } from '../../shared/schemas.js';
import { deleteUser } from '../accounts/account-deletion.js';
import type { AuthKernel } from '../kernel.js';
import { requireRecentAuth } from '../sessions/recent-auth.js';
import { sessionAuthProcedure } from '../trpc.js';

/**
 * `auth.deleteAccount`: the user deletes their own account, for good. Needs a session's token (never
 * an API token) and a recent authentication: a session that signed in recently, or the password
 * with the call. Every token of the user ends on every node before the answer; a notice is mailed
 * (account-deletion.ts says what is kept). A second call, its token gone, is a 401.
 */
export function deleteAccountProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(deleteAccountInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      await requireRecentAuth(kernel, ctx, input?.password);
      await deleteUser(kernel, ctx.user.id, { kind: 'self' });
      kernel.refreshCookie.clear(ctx.authRequest);
      return { ok: true as const };
    });
}
