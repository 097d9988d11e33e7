import { oauthStartInput, oauthStartOutput } from '../../../shared/schemas.js';
import type { AuthKernel } from '../../kernel.js';
import type { OAuthFlows } from '../../oauth/oauth-flows.js';
import { authProcedure } from '../../trpc.js';

/**
 * `auth.oauth.start`: the provider's authorization URL to send the browser to. The flow is bound to
 * this browser (a cookie set on this answer) and lasts ten minutes; `redirectTo` must be allowed.
 */
export function oauthStartProcedure(kernel: AuthKernel, flows: OAuthFlows) {
  return authProcedure
    .input(oauthStartInput)
    .output(oauthStartOutput)
    .mutation(({ input, ctx }) => flows.start(ctx.authRequest, { provider: input.provider, redirectTo: input.redirectTo, linkUserId: null }));
}
