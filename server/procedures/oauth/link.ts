import { oauthLinkInput, oauthStartOutput } from '../../../shared/schemas.js';
import type { AuthKernel } from '../../kernel.js';
import type { OAuthFlows } from '../../oauth/oauth-flows.js';
import { requireRecentAuth } from '../../sessions/recent-auth.js';
import { sessionAuthProcedure } from '../../trpc.js';

/**
 * `auth.oauth.link`: starts a flow, as `oauth.start` does, whose callback links the identity to the
 * caller's account instead of signing in to whichever account holds it. Needs a session's token and
 * a recent authentication (or the password with the call): a stolen token must not attach an
 * attacker's identity, a lasting way in.
 */
export function oauthLinkProcedure(kernel: AuthKernel, flows: OAuthFlows) {
  return sessionAuthProcedure(kernel)
    .input(oauthLinkInput)
    .output(oauthStartOutput)
    .mutation(async ({ input, ctx }) => {
      await requireRecentAuth(kernel, ctx, input.password);
      return flows.start(ctx.authRequest, { provider: input.provider, redirectTo: input.redirectTo, linkUserId: ctx.user.id });
    });
}
