import type { AuthKernel } from './kernel.js';
import { acceptInviteProcedure } from './procedures/accept-invite.js';
import { adminRouter } from './procedures/admin.js';
import { deleteAccountProcedure } from './procedures/delete-account.js';
import { createApiTokenProcedure, listApiTokensProcedure, revokeApiTokenProcedure } from './procedures/api-tokens.js';
import { changeEmailProcedure } from './procedures/change-email.js';
import { changePasswordProcedure } from './procedures/change-password.js';
import { confirmEmailProcedure } from './procedures/confirm-email.js';
import { forgotPasswordProcedure } from './procedures/forgot-password.js';
import { forgotUsernameProcedure } from './procedures/forgot-username.js';
import { inviteProcedure, revokeInvitationProcedure } from './procedures/invite.js';
import { loginProcedure } from './procedures/login.js';
import { logoutProcedure } from './procedures/logout.js';
import { magicLinkRouter } from './procedures/magic-link.js';
import { meProcedure } from './procedures/me.js';
import { oauthRouter } from './procedures/oauth/oauth-router.js';
import { refreshProcedure } from './procedures/refresh.js';
import { registerProcedure } from './procedures/register.js';
import { resendConfirmationProcedure } from './procedures/resend-confirmation.js';
import { resetPasswordProcedure } from './procedures/reset-password.js';
import { settingsProcedure } from './procedures/settings.js';
import { signInAnonymouslyProcedure } from './procedures/sign-in-anonymously.js';
import { listSessionsProcedure, revokeSessionProcedure } from './procedures/sessions.js';
import { updateUserProcedure } from './procedures/update-user.js';
import { authT } from './trpc.js';

/**
 * The auth router: the map of every procedure the kit serves.
 *
 * | procedure                  | who            | what                                            |
 * | -------------------------- | -------------- | ----------------------------------------------- |
 * | `settings` (query)         | anyone         | sign-up policy, password rules, token lifetimes |
 * | `register`                 | anyone         | create an account, mail the confirmation link   |
 * | `confirmEmail`             | anyone         | spend the mailed link, sign in                  |
 * | `resendConfirmation`       | anyone         | mail a fresh confirmation link                  |
 * | `login`                    | anyone         | sign in by email or username                    |
 * | `refresh`                  | anyone         | rotate the refresh token, get new tokens        |
 * | `forgotPassword`           | anyone         | mail a password-reset link                      |
 * | `resetPassword`            | anyone         | spend the link, set the password, end sessions  |
 * | `forgotUsername`           | anyone         | mail the username to the confirmed address      |
 * | `magicLink.request`        | anyone         | mail a sign-in link to an account's address     |
 * | `magicLink.verify`         | anyone         | spend the link, sign in                         |
 * | `signInAnonymously`        | anyone         | a new account with no address, signed in (if on) |
 * | `logout`                   | signed in      | end this, every other, or every session         |
 * | `me` (query)               | signed in      | the user                                        |
 * | `updateUser`               | signed in      | change username, meta                           |
 * | `changePassword`           | signed in      | new password, other sessions end                |
 * | `changeEmail`              | signed in      | mail a link to the new address, tell the old    |
 * | `sessions.list` (query)    | signed in      | the user's sessions                             |
 * | `sessions.revoke`          | signed in      | end one of them                                 |
 * | `apiTokens.create`         | signed in      | a personal API token, shown once                |
 * | `apiTokens.list` (query)   | signed in      | the user's API tokens                           |
 * | `apiTokens.revoke`         | signed in      | end one of them, on every node                  |
 * | `invite`                   | admin          | mail an invitation link                         |
 * | `revokeInvitation`         | admin          | take back one not yet accepted                  |
 * | `acceptInvite`             | anyone         | spend it: set the password, sign in             |
 * | `deleteAccount`            | signed in      | delete the account, end every token everywhere  |
 * | `admin.users.*`            | admin          | find, disable, enable, end sessions, roles, delete |
 * | `admin.events.list` (query) | admin         | the stored audit trail, newest first            |
 * | `oauth.start`              | anyone         | a provider's authorization URL, for this browser |
 * | `oauth.callback`           | anyone         | finish it in the same browser, sign in          |
 * | `oauth.link`               | signed in      | the same, linking the identity to the account   |
 * | `oauth.identities` (query) | signed in      | the linked identities                           |
 * | `oauth.unlink`             | signed in      | unlink one, never the last way to sign in       |
 *
 * "Signed in" takes an API token too, except where the account changes (password, sessions, API
 * tokens): those refuse it with INSUFFICIENT_SCOPE.
 */
export function createAuthRouter(kernel: AuthKernel) {
  return authT.router({
    settings: settingsProcedure(kernel),
    register: registerProcedure(kernel),
    confirmEmail: confirmEmailProcedure(kernel),
    resendConfirmation: resendConfirmationProcedure(kernel),
    login: loginProcedure(kernel),
    refresh: refreshProcedure(kernel),
    forgotPassword: forgotPasswordProcedure(kernel),
    resetPassword: resetPasswordProcedure(kernel),
    forgotUsername: forgotUsernameProcedure(kernel),
    magicLink: magicLinkRouter(kernel),
    signInAnonymously: signInAnonymouslyProcedure(kernel),
    logout: logoutProcedure(kernel),
    me: meProcedure(kernel),
    updateUser: updateUserProcedure(kernel),
    changePassword: changePasswordProcedure(kernel),
    changeEmail: changeEmailProcedure(kernel),
    sessions: authT.router({
      list: listSessionsProcedure(kernel),
      revoke: revokeSessionProcedure(kernel),
    }),
    apiTokens: authT.router({
      create: createApiTokenProcedure(kernel),
      list: listApiTokensProcedure(kernel),
      revoke: revokeApiTokenProcedure(kernel),
    }),
    invite: inviteProcedure(kernel),
    revokeInvitation: revokeInvitationProcedure(kernel),
    acceptInvite: acceptInviteProcedure(kernel),
    deleteAccount: deleteAccountProcedure(kernel),
    admin: adminRouter(kernel),
    oauth: oauthRouter(kernel),
  });
}

/** The type of the auth router, for clients that call it on its own. */
export type AuthRouter = ReturnType<typeof createAuthRouter>;
