import { z } from 'zod';
import { authTokensSchema, refreshInput } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { authProcedure } from '../trpc.js';
import { findUserById, localeOf } from '../accounts/users.js';

/**
 * `auth.refresh`: trades a refresh token for new tokens, rotating it. A token this session has moved
 * past ends the session (`REFRESH_TOKEN_REUSED`); see sessions.ts for the grace window. Without a
 * token in the input, the one in the cookie is used (cookie mode), and its successor goes back there.
 */
export function refreshProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(refreshInput)
    .output(z.object({ tokens: authTokensSchema }))
    .mutation(async ({ input, ctx }) => {
      // Guessing refresh tokens costs the guesser its allowance; a refresh that works costs nothing.
      const { refreshCookie } = kernel;
      refreshCookie.admit(ctx.authRequest);
      const cameInCookie = !input.refreshToken;
      const refreshToken = input.refreshToken || refreshCookie.take(ctx.authRequest);
      if (!refreshToken) throw authError('TOKEN_MISSING');
      await kernel.throttles.beginRefresh(ctx.authRequest);
      const outcome = await kernel.sessions.refresh(refreshToken);
      if (!outcome.ok) {
        if (cameInCookie) refreshCookie.clear(ctx.authRequest);
        if (outcome.code === 'REFRESH_TOKEN_REUSED') {
          const { userId, sessionId } = outcome;
          kernel.logger.warn('refresh token reused: session revoked', { userId, sessionId, ip: ctx.authRequest.ip });
          kernel.background.run(
            'refreshTokenReused',
            async () => {
              const user = await findUserById(kernel.db, userId);
              if (user && (await kernel.throttles.mayMail(user.email))) kernel.mailer.send('refreshTokenReused', user.email, { email: user.email, locale: localeOf(user) });
            },
            ctx.authRequest,
          );
        }
        throw authError(outcome.code);
      }
      await kernel.throttles.refreshSucceeded(ctx.authRequest);
      return { tokens: refreshCookie.deliver(ctx.authRequest, outcome.tokens, { cameInCookie }) };
    });
}
