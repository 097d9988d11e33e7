import { PGlite } from '@electric-sql/pglite';
import type { ResolvedAuthOptions } from '../options.js';
import { startRevocationListener } from './revocation-listener.js';
import type { RevocationListener } from './revocation-listener.js';
import { forgetRevoked } from './revocation-notice.js';

/**
 * Connects the token cache to the other nodes: on PostgreSQL, the cache is trusted only while the
 * revocation listener hears; resolves once it first does. PGlite serves one process and needs none.
 */
export async function listenForRevocations(options: ResolvedAuthOptions): Promise<RevocationListener | null> {
  const pool = options.db.$client;
  if (pool instanceof PGlite) return null;
  const cache = options.tokenCache;
  const { connectionString, heartbeatIntervalMs, staleAfterMs } = options.revocationListener;
  cache.setTrusted(false);
  const listener = startRevocationListener({
    connection: connectionString ? { connectionString } : pool.options,
    onRevocation: (revocation) => forgetRevoked(cache, revocation),
    onTrustChange: (trusted) => cache.setTrusted(trusted),
    logger: options.logger,
    heartbeatIntervalMs,
    staleAfterMs,
  });
  await listener.ready;
  return listener;
}
