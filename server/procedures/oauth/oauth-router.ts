import type { AuthKernel } from '../../kernel.js';
import { createOAuthFlows } from '../../oauth/oauth-flows.js';
import { authT } from '../../trpc.js';
import { oauthCallbackProcedure } from './callback.js';
import { oauthIdentitiesProcedure, oauthUnlinkProcedure } from './identities.js';
import { oauthLinkProcedure } from './link.js';
import { oauthStartProcedure } from './start.js';

/** `auth.oauth.*`: sign-in with the providers of the `oauth` option, and the identities linked. */
export function oauthRouter(kernel: AuthKernel) {
  const flows = createOAuthFlows(kernel);
  return authT.router({
    start: oauthStartProcedure(kernel, flows),
    callback: oauthCallbackProcedure(kernel, flows),
    link: oauthLinkProcedure(kernel, flows),
    identities: oauthIdentitiesProcedure(kernel),
    unlink: oauthUnlinkProcedure(kernel),
  });
}
