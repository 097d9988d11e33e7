import { z } from 'zod';
import { authTokensSchema, refreshInput } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { authProcedure } from '../trpc.js';

/**
 * `auth.refresh`: trades a refresh token for new tokens, rotating it. A token this session has moved
 * past ends the session (`REFRESH_TOKEN_REUSED`); see sessions.ts for the grace window.
 */
export function refreshProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(refreshInput)
    .output(z.object({ tokens: authTokensSchema }))
    .mutation(async ({ input, ctx }) => {
      const outcome = await kernel.sessions.refresh(input.refreshToken);
      if (!outcome.ok) {
        if (outcome.code === 'REFRESH_TOKEN_REUSED') {
          const { userId, sessionId } = outcome;
          kernel.logger.warn('refresh token reused: session revoked', { userId, sessionId, ip: ctx.authRequest.ip });
        }
        throw authError(outcome.code);
      }
      return { tokens: outcome.tokens };
    });
}
