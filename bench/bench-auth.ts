import type { AuthDatabase } from '../db/index.js';
import { createAuth } from '../server/index.js';
import type { AuthOptions } from '../server/index.js';

const PLENTY = 1_000_000;

/**
 * The kit as the bench drives it: no mail leaves, sign-up needs no confirmation, nothing is logged,
 * one client may sign in over and over and one session refresh as often as it can (only the bound
 * the bench measures may hold it back).
 */
export function createBenchAuth(db: AuthDatabase, options: Pick<AuthOptions, 'password' | 'clientIp'> = {}) {
  return createAuth({
    db,
    mail: { transport: { sendMail: () => Promise.resolve({}) }, from: 'bench@example.test', appUrl: 'http://localhost' },
    signup: { emailConfirmation: 'off' },
    rateLimits: { hashesPerIp: PLENTY, sessionsPerIp: PLENTY, sessionsPerAccount: PLENTY },
    // The refresh bench's clients each refresh a few times a second, as no real client does.
    refreshLimit: { maxPerWindow: 100_000 },
    logger: { info() {}, warn() {}, error() {} },
    ...options,
  });
}
