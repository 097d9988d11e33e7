import type { AuthRequest } from '../context.js';
import { authError } from '../errors.js';
import type { RateLimitPolicy } from './rate-limit-options.js';
import type { CountStep, RateLimit, RateLimiter, RateVerdict, SettleKeys } from './rate-limits.js';

/*
 * The kit's throttles, on the shared rate-limit counters:
 *   - per client (the connection's peer, or what the `clientIp` option says; an IPv6 client counts
 *     by its /64, which one client usually holds whole): sign-in attempts that fail, and sign-ups
 *     refused for a taken address or username (refresh tokens count with the other tokens,
 *     token-failures.ts);
 *     beyond the limit every such call answers RATE_LIMITED with Retry-After;
 *   - per account (its user id and current password, whichever identifier was typed; an unknown
 *     identifier counts by itself): wrong passwords, three ways. Per client (a device or a session
 *     the account knows, known-clients.ts, else the client's address); from the clients it does not
 *     know, together; and from all. Beyond any of the three a sign-in fails exactly as a wrong
 *     password does, without its password being checked, so a lock is no oracle and cannot be used
 *     to guess. The strangers' share is a part of the whole, and an attempt refused there costs it
 *     nothing: however many addresses strangers use, the rest stays for the account's known devices
 *     and sessions, so a stranger can slow guessing but never lock the owner out. A success clears
 *     its client's failures, not the account's (else each sign-in of the owner would hand guessers a
 *     fresh allowance); a new password (a reset, a change) starts every count afresh.
 *   - per client, calls that send mail on an anonymous caller's word (sign-up, forgot, resend, magic
 *     link, email change); beyond the limit RATE_LIMITED with Retry-After, before any address is
 *     looked up, so the refusal says nothing about the address;
 *   - per address: every kind of mail; beyond the limit none is sent, and the answer does not
 *     change. (The confirmation of a new sign-up is bounded by its nature: an address signs up
 *     once, and a second sign-up to it sends the capped notice instead.)
 *   - per client, anonymous accounts made (`signInAnonymously`), per hour: each is a row that stays
 *     until the cleaner finds it unused;
 *   - per client, calls that hash (hashing-turns.ts counts them, before any hashing), given back when
 *     the call proves a secret; and sessions started, per client and per account, whatever the way
 *     in. Beyond either, RATE_LIMITED with Retry-After.
 * Every attempt is counted before it is judged and given back when it succeeds: concurrent attempts
 * (a batch of a hundred sign-ins) cannot all pass a check made before any of them was counted.
 */

/** A password tried on an account, as its counters see it (known-clients.ts builds it). */
export interface AccountAttempt {
  /** The account and the password tried against, or an identifier that names no account. */
  account: string;
  /** How the account knows the client (`device:…`, `session:…`); null for a stranger. */
  knownAs: string | null;
  /** The client's address, which a stranger is counted by. */
  ip: string | null;
}

/**
 * What a call that hashes counts against its client before it hashes: its hash alone, or, for a
 * sign-in (a password tried on an account), the attempt too (`rateLimits.failuresPerIp`).
 */
export type HashingCount = 'hash' | 'sign-in';

export interface Throttles {
  /**
   * Counts an attempt on the account and says whether it is locked for this client: the client's own
   * count on the account first, then (only if that allows it) the account's, in one statement.
   */
  countAccountAttempt(attempt: AccountAttempt): Promise<{ locked: boolean }>;
  /**
   * The password was right: the attempt is given back, on the account and the client (its sign-in
   * and its hash, so the caller gives no hash back of its own), and its client's failures on the
   * account are forgotten; one statement.
   */
  signInSucceeded(request: AuthRequest, attempt: AccountAttempt): Promise<void>;
  /**
   * Runs `lookUp` (what of a sign-up is taken already, or null) counted with the client's failed
   * sign-ins, before it runs: a taken value stays counted, anything else is given back. Throws
   * RATE_LIMITED, looking nothing up, when the client is over its allowance.
   */
  screenSignUp<T>(request: AuthRequest, lookUp: () => Promise<T | null>): Promise<T | null>;
  /** Counts a call that may send mail; throws RATE_LIMITED when the client is over its allowance. */
  beginMail(request: AuthRequest): Promise<void>;
  /**
   * `beginMail` for the client, then `mayMail` for the address: a call that mails one address
   * (forgot, resend, magic link) asks both. Throws RATE_LIMITED for the client; false when the
   * address had its share (the call then answers as if it had mailed).
   */
  admitMailTo(request: AuthRequest, email: string): Promise<boolean>;
  /** Counts a mail to `email` and says whether it may go. */
  mayMail(email: string): Promise<boolean>;
  /**
   * Counts a call that is about to hash against its client's allowance (and, for a `sign-in`, then
   * its allowance of failed sign-ins, in the same statement); the first refusal, if any.
   */
  countHashing(request: AuthRequest, counts?: HashingCount): Promise<RateVerdict>;
  /** The hashing call proved a secret: its count is given back. */
  hashingSucceeded(request: AuthRequest): Promise<void>;
  /**
   * Counts a session about to start for `userId` from the request's client; throws RATE_LIMITED
   * when the client or the account has started too many this window. With `succeeded`, the sign-in
   * attempt that proved the password is given back in the same statement (as `signInSucceeded`),
   * whatever the verdict.
   */
  admitSession(request: Pick<AuthRequest, 'ip' | 'setHeader'>, userId: string, succeeded?: AccountAttempt): Promise<void>;
  /** Counts an OAuth flow started from the request's client; throws RATE_LIMITED beyond its allowance. */
  beginOAuthFlow(request: AuthRequest): Promise<void>;
  /** Counts an anonymous account about to be made for the request's client; throws RATE_LIMITED beyond its allowance. */
  beginAnonymousSignIn(request: AuthRequest): Promise<void>;
}

/** The limits counted per client, by the name their counters' keys start with. */
export type ClientLimitKind = 'failures-ip' | 'mail-ip' | 'hashes-ip' | 'sessions-ip' | 'oauth-flows-ip' | 'anonymous-ip';

/** The key of the counter of limit `kind` for the client at `ip`. */
export function clientLimitKey(kind: ClientLimitKind, ip: string): string {
  return `${kind}:${clientOf(ip)}`;
}

/** The window of the per-address and per-client mail limits. */
export const MAIL_WINDOW_SECONDS = 3600;
/** The window of the per-client limit on anonymous accounts. */
const ANONYMOUS_WINDOW_SECONDS = 3600;

/** The longest window of any limit: a counter older than this counts for none of them. */
export function longestWindowSeconds(policy: Pick<RateLimitPolicy, 'windowSeconds'>): number {
  return Math.max(policy.windowSeconds, MAIL_WINDOW_SECONDS, ANONYMOUS_WINDOW_SECONDS);
}

export function createThrottles(limiter: RateLimiter, policy: RateLimitPolicy): Throttles {
  const perIp = { max: policy.failuresPerIp, windowSeconds: policy.windowSeconds };
  const perAccount = { max: policy.loginFailuresPerAccount, windowSeconds: policy.windowSeconds };
  const perAccountFromStrangers = { max: policy.loginFailuresPerAccountFromUnknownClients, windowSeconds: policy.windowSeconds };
  const perAccountAndClient = { max: policy.loginFailuresPerAccountPerClient, windowSeconds: policy.windowSeconds };
  const perAddress = { max: policy.mailsPerAddressPerHour, windowSeconds: MAIL_WINDOW_SECONDS };
  const mailsPerClient = { max: policy.mailsPerClientPerHour, windowSeconds: MAIL_WINDOW_SECONDS };
  const hashesPerIp = { max: policy.hashesPerIp, windowSeconds: policy.windowSeconds };
  const sessionsPerIp = { max: policy.sessionsPerIp, windowSeconds: policy.windowSeconds };
  const sessionsPerAccount = { max: policy.sessionsPerAccount, windowSeconds: policy.windowSeconds };
  const oauthFlowsPerIp = { max: policy.oauthFlowsPerIp, windowSeconds: policy.windowSeconds };
  const anonymousPerIp = { max: policy.anonymousSignInsPerIpPerHour, windowSeconds: ANONYMOUS_WINDOW_SECONDS };
  const clientKey = (kind: ClientLimitKind, request: Pick<AuthRequest, 'ip'>) => (request.ip === null ? null : clientLimitKey(kind, request.ip));
  const ipKey = (request: Pick<AuthRequest, 'ip'>) => clientKey('failures-ip', request);
  const accountKey = (attempt: AccountAttempt) => `login-account:${attempt.account}`;
  // A stranger without an address (the fetch adapter without `clientIp`) has no count of its own.
  const accountClientKey = ({ account, knownAs, ip }: AccountAttempt) =>
    knownAs !== null ? `login-account-client:${account}:${knownAs}` : ip === null ? null : `login-account-client:${account}:ip:${clientOf(ip)}`;

  /** The steps of `keys` (those not null), each counted always. */
  const always = (...counted: Array<[string | null, RateLimit]>): CountStep[] =>
    counted.flatMap(([key, limit]) => (key === null ? [] : [{ key, limit, counts: 'always' as const }]));
  /** The first refusal of a count in order, or an admission. */
  const firstRefusal = (verdicts: ReadonlyArray<RateVerdict | null>): RateVerdict => verdicts.find((verdict) => verdict !== null && !verdict.allowed) ?? { allowed: true, retryAfterSeconds: 0 };

  /** What a sign-in that proved the password gives back: its counts, and its client's failures on the account. */
  function givenBack(request: Pick<AuthRequest, 'ip'>, attempt: AccountAttempt): SettleKeys {
    const ownKey = accountClientKey(attempt);
    const release = [accountKey(attempt), ipKey(request), clientKey('hashes-ip', request)].filter((key) => key !== null);
    return { release, reset: ownKey === null ? [] : [ownKey] };
  }

  function refuse(request: Pick<AuthRequest, 'setHeader'>, verdict: RateVerdict): never {
    request.setHeader('Retry-After', String(verdict.retryAfterSeconds));
    throw authError('RATE_LIMITED');
  }

  async function countClient(request: AuthRequest): Promise<void> {
    const key = ipKey(request);
    if (key === null) return;
    const verdict = await limiter.hit(key, perIp);
    if (!verdict.allowed) refuse(request, verdict);
  }

  async function beginMail(request: AuthRequest): Promise<void> {
    const key = clientKey('mail-ip', request);
    const verdict = key === null ? null : await limiter.hit(key, mailsPerClient);
    if (verdict && !verdict.allowed) refuse(request, verdict);
  }

  async function mayMail(email: string): Promise<boolean> {
    return (await limiter.hit(`mail:${email}`, perAddress)).allowed;
  }

  async function releaseClient(request: AuthRequest): Promise<void> {
    const key = ipKey(request);
    if (key !== null) await limiter.release(key);
  }

  return {
    async countAccountAttempt(attempt) {
      // A client past its own count is refused before it can spend any of the account's.
      const account: CountStep = { key: accountKey(attempt), limit: attempt.knownAs === null ? perAccountFromStrangers : perAccount, counts: 'if-within' };
      const verdicts = await limiter.countInOrder([...always([accountClientKey(attempt), perAccountAndClient]), account]);
      return { locked: verdicts.some((verdict) => verdict === null || !verdict.allowed) };
    },
    signInSucceeded: (request, attempt) => limiter.settle(givenBack(request, attempt)),
    async screenSignUp(request, lookUp) {
      await countClient(request);
      let taken = null;
      try {
        taken = await lookUp();
      } finally {
        if (taken === null) await releaseClient(request);
      }
      return taken;
    },
    beginMail,
    mayMail,
    async admitMailTo(request, email) {
      await beginMail(request);
      return mayMail(email);
    },
    async countHashing(request, counts = 'hash') {
      const signIn: Array<[string | null, RateLimit]> = counts === 'sign-in' ? [[ipKey(request), perIp]] : [];
      return firstRefusal(await limiter.countInOrder(always([clientKey('hashes-ip', request), hashesPerIp], ...signIn)));
    },
    async hashingSucceeded(request) {
      const key = clientKey('hashes-ip', request);
      if (key !== null) await limiter.release(key);
    },
    async beginOAuthFlow(request) {
      const key = clientKey('oauth-flows-ip', request);
      const verdict = key === null ? null : await limiter.hit(key, oauthFlowsPerIp);
      if (verdict && !verdict.allowed) refuse(request, verdict);
    },
    async beginAnonymousSignIn(request) {
      const key = clientKey('anonymous-ip', request);
      const verdict = key === null ? null : await limiter.hit(key, anonymousPerIp);
      if (verdict && !verdict.allowed) refuse(request, verdict);
    },
    async admitSession(request, userId, succeeded) {
      // The client first: a client refused here adds nothing to the account's count.
      const steps = always([clientKey('sessions-ip', request), sessionsPerIp], [`sessions-account:${userId}`, sessionsPerAccount]);
      const verdict = firstRefusal(await limiter.countInOrder(steps, succeeded && givenBack(request, succeeded)));
      if (!verdict.allowed) refuse(request, verdict);
    },
  };
}

/** The client an address stands for: an IPv4 address (also when IPv4-mapped), or an IPv6 /64. */
export function clientOf(ip: string): string {
  const address = ip.split('%')[0] as string;
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups]
    : headGroups;
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group || '0', 16).toString(16))
    .join(':')}::/64`;
}
