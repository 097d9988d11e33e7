import { z } from 'zod';
import { authTokensSchema, refreshInput } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { authProcedure } from '../trpc.js';
import { findUserById, localeOf } from '../accounts/users.js';
import { createRefreshGuard } from '../sessions/refresh-guard.js';

/**
 * `auth.refresh`: trades a refresh token for new tokens, rotating it. A token this session has moved
 * past ends the session (`REFRESH_TOKEN_REUSED`); see sessions.ts for the grace window. Without a
 * token in the input, the one in the cookie is used (cookie mode), and its successor goes back there.
 * A made-up token costs a lookup of the client's allowance and writes nothing (refresh-guard.ts).
 */
export function refreshProcedure(kernel: AuthKernel) {
  const guard = createRefreshGuard({ sessions: kernel.sessions, failures: kernel.tokenFailures, clock: kernel.clock });
  return authProcedure
    .input(refreshInput)
    .output(z.object({ tokens: authTokensSchema }))
    .mutation(async ({ input, ctx }) => {
      const { refreshCookie } = kernel;
      refreshCookie.admit(ctx.authRequest);
      const cameInCookie = !input.refreshToken;
      const refreshToken = input.refreshToken || refreshCookie.take(ctx.authRequest);
      if (!refreshToken) throw authError('TOKEN_MISSING');
      const outcome = await guard.refresh(refreshToken, ctx.authRequest.ip);
      if (!outcome.ok) {
        if (outcome.code === 'RATE_LIMITED') {
          // Nothing rotated and nothing was held against the token: the cookie's may still be good
          // once the wait is over (a full window of refreshes leaves it the session's current one).
          ctx.authRequest.setHeader('Retry-After', String(outcome.retryAfterSeconds));
          throw authError('RATE_LIMITED');
        }
        if (cameInCookie) refreshCookie.clear(ctx.authRequest);
        if (outcome.code === 'REFRESH_TOKEN_REUSED') {
          const { userId, sessionId } = outcome;
          kernel.logger.warn('refresh token reused: session revoked', { userId, sessionId, ip: ctx.authRequest.ip });
          kernel.background.run(
            'refreshTokenReused',
            async () => {
              const user = await findUserById(kernel.db, userId);
              const email = user?.email ?? null;
              if (user && email !== null && (await kernel.throttles.mayMail(email))) kernel.mailer.send('refreshTokenReused', email, { email, locale: localeOf(user) });
            },
            ctx.authRequest,
          );
        }
        throw authError(outcome.code);
      }
      return { tokens: refreshCookie.deliver(ctx.authRequest, outcome.tokens, { cameInCookie }) };
    });
}
