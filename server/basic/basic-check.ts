import type { AuthRequest } from '../context.js';
import type { Logger } from '../deps.js';
import type { ResolvedAuthOptions } from '../options.js';
import type { HashingTurns } from '../passwords/hashing-turns.js';
import { isRefusal } from '../passwords/hashing-turns.js';
import type { RateLimiter } from '../limits/rate-limits.js';
import { clientOf } from '../limits/throttles.js';
import { parseBasicAuthorization } from './authorization-header.js';
import { checkedFormats, matchClientSecret, readClientSecrets } from './client-secrets.js';
import type { SecretFormat, StoredSecret } from './client-secrets.js';

/*
 * Judging a Basic client of a realm. The secret comes from `findClientSecret` when it answers, from
 * the configured `clients` otherwise. An unknown client id costs what a wrong secret costs: it is
 * checked against a dummy of the realm's format (the format its configured secrets share, or the one
 * `findClientSecret` last returned for it; argon2id when unknown). Keep one format per realm. In a
 * realm where a client holds two secrets (a rotation), every check compares two forms, padded with
 * dummies, so the rotating client is not told apart from the others or from an unknown id.
 *
 * Every attempt counts against the client id and the caller's address before it is judged and is
 * given back when it succeeds, so a batch of guesses cannot all slip under the limit; beyond it the
 * answer is RATE_LIMITED and the secret is not checked. An argon2id check takes a hashing turn
 * (hashing-turns.ts), as a password does; refused because the server is busy, the attempt is given
 * back, since nothing was judged.
 */

/** The machine client of a Basic procedure, as `ctx.client` holds it. */
export interface BasicClient {
  id: string;
  realm: string;
}

export type BasicOutcome =
  | { ok: true; client: BasicClient }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown client' | 'wrong secret'; detail: string }
  | { ok: false; reason: 'rate limited'; retryAfterSeconds: number };

export interface BasicCheck {
  check(request: AuthRequest, realm: string): Promise<BasicOutcome>;
}

export function createBasicCheck(deps: {
  policy: ResolvedAuthOptions['basic'];
  windowSeconds: number;
  limiter: RateLimiter;
  hashing: HashingTurns;
  logger: Logger;
}): BasicCheck {
  const { policy, limiter, hashing, logger } = deps;
  const configured = new Map<string, Map<string, StoredSecret[]>>();
  const dummyFormats = new Map<string, SecretFormat>();
  // Forms compared per check in a realm: 2 once any client of the realm has held two (a rotation), else 1.
  const checksPerRealm = new Map<string, number>();
  for (const [realm, clients] of Object.entries(policy.clients)) {
    const realmSecrets = new Map<string, StoredSecret[]>();
    for (const [clientId, secrets] of Object.entries(clients)) {
      if (secrets.some((secret) => secret.format === 'cleartext')) {
        logger.warn('a Basic client secret is configured in clear; store its hash (npx trpc-auth-kit hash-secret)', { realm, clientId });
      }
      realmSecrets.set(clientId, secrets);
    }
    configured.set(realm, realmSecrets);
    const all = [...realmSecrets.values()];
    const formats = new Set(all.flat().map((secret) => secret.format));
    dummyFormats.set(realm, formats.size === 1 ? ([...formats][0] as SecretFormat) : 'argon2id');
    checksPerRealm.set(realm, Math.max(1, ...all.map((secrets) => secrets.length)));
  }
  const warnedInClear = new Set<string>();
  const limit = { max: policy.failuresPerClientAndSource, windowSeconds: deps.windowSeconds };

  async function findSecrets(realm: string, clientId: string): Promise<StoredSecret[] | null> {
    const found = policy.findClientSecret ? await policy.findClientSecret(realm, clientId) : null;
    if (typeof found !== 'string' && !Array.isArray(found)) return configured.get(realm)?.get(clientId) ?? null;
    const secrets = readClientSecrets(found);
    if ('error' in secrets) {
      logger.error('findClientSecret returned a malformed secret; the client is refused', { realm, clientId, error: secrets.error });
      return null;
    }
    dummyFormats.set(realm, (secrets[0] as StoredSecret).format);
    checksPerRealm.set(realm, Math.max(checksPerRealm.get(realm) ?? 1, secrets.length));
    if (secrets.some((secret) => secret.format === 'cleartext') && !warnedInClear.has(`${realm}:${clientId}`)) {
      warnedInClear.add(`${realm}:${clientId}`);
      logger.warn('findClientSecret returned a secret in clear; return its hash', { realm, clientId });
    }
    return secrets;
  }

  return {
    async check(request, realm) {
      const credentials = parseBasicAuthorization(request.authorization);
      if (credentials.kind === 'none') return { ok: false, reason: 'missing', detail: 'no Basic credentials' };
      // Counted by source alone when there is no client id to count by.
      const clientId = credentials.kind === 'credentials' ? credentials.clientId : '';
      const key = request.ip === null ? null : `basic:${realm}:${clientId}:${clientOf(request.ip)}`;
      if (key !== null) {
        const verdict = await limiter.hit(key, limit);
        if (!verdict.allowed) return { ok: false, reason: 'rate limited', retryAfterSeconds: verdict.retryAfterSeconds };
      }
      if (credentials.kind === 'malformed') return { ok: false, reason: 'malformed', detail: credentials.reason };

      const stored = await findSecrets(realm, credentials.clientId);
      const secrets = stored ?? [];
      const checks = checksPerRealm.get(realm) ?? 1;
      const dummyFormat = dummyFormats.get(realm) ?? 'argon2id';
      const turn = checkedFormats(secrets, checks, dummyFormat).includes('argon2id') ? await hashing.take(request) : null;
      if (turn && isRefusal(turn)) {
        if (turn.refused === 'busy' && key !== null) await limiter.release(key);
        return { ok: false, reason: 'rate limited', retryAfterSeconds: turn.retryAfterSeconds };
      }
      let valid: boolean;
      try {
        valid = await matchClientSecret({ secrets, presented: credentials.secret, checks, dummyFormat, turn });
      } finally {
        turn?.end();
      }
      if (!stored) return { ok: false, reason: 'unknown client', detail: `no client "${credentials.clientId}" in realm "${realm}"` };
      if (!valid) return { ok: false, reason: 'wrong secret', detail: 'wrong secret' };
      await Promise.all([key === null ? undefined : limiter.release(key), turn ? hashing.succeeded(request) : undefined]);
      return { ok: true, client: { id: credentials.clientId, realm } };
    },
  };
}
