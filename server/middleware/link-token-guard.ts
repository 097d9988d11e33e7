import { experimental_standaloneMiddleware } from '@trpc/server';
import { parseToken } from '../../shared/token-format.js';
import { RefusedTokens } from '../cache/refused-tokens.js';
import type { AuthBaseContext } from '../context.js';
import type { Clock } from '../deps.js';
import { AuthError, authError } from '../errors.js';
import { hashToken } from '../tokens/secrets.js';
import type { TokenFailures } from '../tokens/token-failures.js';

type LinkRefusal = 'LINK_INVALID' | 'LINK_EXPIRED';

/**
 * The middleware in front of every procedure that spends a mailed link (`confirmEmail`,
 * `magicLink.verify`, `resetPassword`, `acceptInvite`), so that made-up `lk_` tokens cost the
 * database no more than made-up bearer tokens do. A malformed token is refused before any query. A
 * token this procedure refused lately is refused again from the negative cache, which is kept per
 * procedure: a reset link refused by `magicLink.verify` is still good for `resetPassword`. A client
 * over its allowance of failed lookups (token-failures.ts, shared with bearer tokens) answers
 * RATE_LIMITED with `Retry-After`. A call that ends in LINK_INVALID counts as a failed lookup of its
 * client; any other outcome gives the count back.
 */
export function createLinkTokenGuard(deps: { failures: TokenFailures; clock: Clock }) {
  const { failures, clock } = deps;
  const refused = new RefusedTokens<LinkRefusal>();

  return experimental_standaloneMiddleware<{ ctx: AuthBaseContext; input: { token: string } }>().create(async function guardLinkToken({ ctx, input, path, next }) {
    if (!parseToken('link', input.token)) throw authError('LINK_INVALID');
    const tokenHash = hashToken(`${path} ${input.token}`);
    const known = refused.recall(tokenHash, clock.now());
    if (known) throw authError(known);
    const request = ctx.authRequest;
    const admission = failures.admit(request.ip);
    if (!admission.allowed) {
      request.setHeader('Retry-After', String(admission.retryAfterSeconds));
      throw authError('RATE_LIMITED');
    }
    const result = await next();
    const code = !result.ok && result.error instanceof AuthError ? result.error.authCode : null;
    if (code === 'LINK_INVALID' || code === 'LINK_EXPIRED') refused.remember(tokenHash, code, clock.now());
    await failures.settle(request.ip, code === 'LINK_INVALID');
    return result;
  });
}

/** The middleware `createLinkTokenGuard` builds. */
export type LinkTokenGuard = ReturnType<typeof createLinkTokenGuard>;
