import { z } from 'zod';
import { apiTokenInfoSchema, createApiTokenInput, createApiTokenOutput, okOutput, revokeApiTokenInput } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { ADMIN_ROLE, hasRole } from '../accounts/roles.js';
import { refuseAnonymous } from '../anonymous/anonymous-users.js';
import { ADMIN_SCOPE, INVITE_SCOPE } from '../middleware/admin-access.js';
import { requireRecentAuth } from '../sessions/recent-auth.js';
import { protectedAuthProcedure, sessionAuthProcedure } from '../trpc.js';

/** Scopes whose power is the kit's admin procedures'. */
const KIT_ADMIN_SCOPES: ReadonlySet<string> = new Set([ADMIN_SCOPE, INVITE_SCOPE]);

/**
 * `auth.apiTokens.create`: a new personal API token, shown in this answer only. Needs a session's
 * token (an API token cannot mint another) and a recent authentication: a token outlives the
 * session, so a stolen access token must not be able to mint one. A user holding
 * `apiTokens.maxPerUser` live tokens gets `API_TOKEN_LIMIT_REACHED` until one is revoked or expires.
 * An anonymous account gets none (`ANONYMOUS_NOT_ALLOWED`): a token would outlive the sessions that
 * are all it has, and the cleaner's judgement of it as unused. The kit's own admin scopes
 * (`users:admin`, `users:invite`) are minted only for a user who is an admin now (`ROLE_REQUIRED`):
 * a token asked for before the role was granted would otherwise become an admin's the day it is.
 */
export function createApiTokenProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(createApiTokenInput)
    .output(createApiTokenOutput)
    .mutation(async ({ input, ctx }) => {
      await refuseAnonymous(kernel.db, ctx.user.id);
      await requireRecentAuth(kernel, ctx, input.password);
      const scopes = input.scopes ?? [];
      if (scopes.some((scope) => KIT_ADMIN_SCOPES.has(scope)) && !(await hasRole(kernel.db, ctx.user.id, ADMIN_ROLE))) throw authError('ROLE_REQUIRED');
      const made = await kernel.apiTokens.create(ctx.user.id, { name: input.name, scopes, expiresInDays: input.expiresInDays });
      if (!made) throw authError('API_TOKEN_LIMIT_REACHED');
      return made;
    });
}

/** `auth.apiTokens.list`: the caller's live API tokens, newest first; metadata only. */
export function listApiTokensProcedure(kernel: AuthKernel) {
  return protectedAuthProcedure(kernel)
    .output(z.array(apiTokenInfoSchema))
    .query(({ ctx }) => kernel.apiTokens.list(ctx.user.id));
}

/**
 * `auth.apiTokens.revoke`: ends one of the caller's API tokens on every node at once. Needs a
 * session's token. Another user's id, or an unknown one, gets the same answer and changes nothing.
 */
export function revokeApiTokenProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(revokeApiTokenInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      await kernel.apiTokens.revoke(ctx.user.id, input.id);
      return { ok: true as const };
    });
}
