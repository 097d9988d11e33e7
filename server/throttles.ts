import type { AuthRequest } from './context.js';
import { authError } from './errors.js';
import type { ResolvedAuthOptions } from './options.js';
import type { RateLimiter } from './rate-limits.js';

/*
 * The kit's throttles, on the shared rate-limit counters:
 *   - per client IP (the connection's peer, never a header the client sets): sign-in and refresh
 *     attempts that fail; beyond the limit every such call answers RATE_LIMITED with Retry-After;
 *   - per account identifier: failed sign-ins; beyond the limit a sign-in fails exactly as a wrong
 *     password does, without its password being checked, so the lock is no oracle (an unknown
 *     account locks the same way) and cannot be used to guess; a password reset still works;
 *   - per address: mails of the forgot and resend kinds; beyond the limit none is sent, and the
 *     answer does not change.
 * Every attempt is counted before it is judged and given back when it succeeds: concurrent attempts
 * (a batch of a hundred sign-ins) cannot all pass a check made before any of them was counted.
 */

export interface Throttles {
  /** Counts a sign-in attempt; throws RATE_LIMITED when the client is over its allowance. */
  beginSignIn(request: AuthRequest, identifier: string): Promise<{ accountLocked: boolean }>;
  signInSucceeded(request: AuthRequest, identifier: string): Promise<void>;
  /** Counts a refresh attempt; throws RATE_LIMITED when the client is over its allowance. */
  beginRefresh(request: AuthRequest): Promise<void>;
  refreshSucceeded(request: AuthRequest): Promise<void>;
  /** Counts a mail to `email` and says whether it may go. */
  mayMail(email: string): Promise<boolean>;
}

export function createThrottles(limiter: RateLimiter, policy: ResolvedAuthOptions['rateLimits']): Throttles {
  const perIp = { max: policy.failuresPerIp, windowSeconds: policy.windowSeconds };
  const perAccount = { max: policy.loginFailuresPerAccount, windowSeconds: policy.windowSeconds };
  const perAddress = { max: policy.mailsPerAddressPerHour, windowSeconds: 3600 };
  const ipKey = (request: AuthRequest) => (request.ip === null ? null : `failures-ip:${request.ip}`);
  const accountKey = (identifier: string) => `login-account:${identifier.trim().toLowerCase()}`;

  async function countClient(request: AuthRequest): Promise<void> {
    const key = ipKey(request);
    if (key === null) return;
    const verdict = await limiter.hit(key, perIp);
    if (verdict.allowed) return;
    request.setHeader('Retry-After', String(verdict.retryAfterSeconds));
    throw authError('RATE_LIMITED');
  }

  async function releaseClient(request: AuthRequest): Promise<void> {
    const key = ipKey(request);
    if (key !== null) await limiter.release(key);
  }

  return {
    async beginSignIn(request, identifier) {
      await countClient(request);
      const verdict = await limiter.hit(accountKey(identifier), perAccount);
      return { accountLocked: !verdict.allowed };
    },
    async signInSucceeded(request, identifier) {
      await Promise.all([limiter.reset(accountKey(identifier)), releaseClient(request)]);
    },
    beginRefresh: countClient,
    refreshSucceeded: releaseClient,
    async mayMail(email) {
      return (await limiter.hit(`mail:${email}`, perAddress)).allowed;
    },
  };
}
