import { z } from 'zod';
import { oauthIdentitySchema, oauthUnlinkInput, okOutput } from '../../../shared/schemas.js';
import type { AuthKernel } from '../../kernel.js';
import { listIdentities, unlinkProvider } from '../../oauth/identities.js';
import { protectedAuthProcedure, sessionAuthProcedure } from '../../trpc.js';

/** `auth.oauth.identities`: the identities linked to the caller's account, oldest first. */
export function oauthIdentitiesProcedure(kernel: AuthKernel) {
  return protectedAuthProcedure(kernel)
    .output(z.array(oauthIdentitySchema))
    .query(({ ctx }) => listIdentities(kernel.db, ctx.user.id));
}

/**
 * `auth.oauth.unlink`: removes the caller's identities at a provider, unless the account would be
 * left without a way to sign in (`LAST_SIGN_IN_METHOD`: set a password, or link another, first).
 * Needs a session's token.
 */
export function oauthUnlinkProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(oauthUnlinkInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      await unlinkProvider(kernel, ctx.user.id, input.provider);
      return { ok: true as const };
    });
}
