import { emailOnlyInput, inviteInput, okOutput } from '../../shared/schemas.js';
import { adminProcedure } from '../middleware/admin-access.js';
import type { Administrator } from '../middleware/admin-access.js';
import { revokeInvitation, sendInvitation } from '../accounts/invitations.js';
import type { AuthKernel } from '../kernel.js';

/** Who acted, as the log names them. */
function actor(administrator: Administrator) {
  return administrator.kind === 'client' ? { client: administrator.clientId } : { userId: administrator.userId };
}

/**
 * `auth.invite`: an administrator (a Basic client of the `admin` realm, or a user with the admin
 * role) invites an address. The answer is `{ ok: true }` whether or not the address has an account;
 * the work is done after answering, so its time does not tell either (see invitations.ts).
 */
export function inviteProcedure(kernel: AuthKernel) {
  return adminProcedure(kernel)
    .input(inviteInput)
    .output(okOutput)
    .mutation(({ input, ctx }) => {
      kernel.logger.info('invitation requested', actor(ctx.administrator));
      kernel.background.run('invite', () => sendInvitation(kernel, input));
      return { ok: true as const };
    });
}

/**
 * `auth.revokeInvitation`: an administrator takes back an invitation not yet accepted; its link
 * stops working at once. `{ ok: true }` for any address.
 */
export function revokeInvitationProcedure(kernel: AuthKernel) {
  return adminProcedure(kernel)
    .input(emailOnlyInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      kernel.logger.info('invitation revoked', actor(ctx.administrator));
      await revokeInvitation(kernel, input.email);
      return { ok: true as const };
    });
}
