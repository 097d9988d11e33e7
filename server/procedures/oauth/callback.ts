import { oauthCallbackInput, oauthCallbackOutput } from '../../../shared/schemas.js';
import type { AuthKernel } from '../../kernel.js';
import { accountForIdentity, linkIdentity } from '../../oauth/identities.js';
import type { OAuthFlows } from '../../oauth/oauth-flows.js';
import { admitSignIn, signIn } from '../../sessions/sign-in.js';
import { authProcedure } from '../../trpc.js';

/**
 * `auth.oauth.callback`: finishes a flow in the browser that started it, and signs in through the
 * one sign-in path (cookie mode, devices, limits and events as every other method). A flow started by
 * `oauth.link` links the identity to its account first; any other signs in to the account the
 * identity belongs to, joins or makes (identities.ts). `redirectTo` is where the flow was to return.
 */
export function oauthCallbackProcedure(kernel: AuthKernel, flows: OAuthFlows) {
  return authProcedure
    .input(oauthCallbackInput)
    .output(oauthCallbackOutput)
    .mutation(async ({ input, ctx }) => {
      admitSignIn(kernel, ctx);
      const { identity, flow } = await flows.finish(ctx.authRequest, input);
      const user = flow.linkUserId === null ? await accountForIdentity(kernel, identity) : await linkIdentity(kernel, identity, flow.linkUserId);
      const signedIn = await signIn(kernel, ctx, { user, method: 'oauth' });
      return { ...signedIn, redirectTo: flow.returnTo };
    });
}
