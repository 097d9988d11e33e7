import { closeDatabase, connectDatabase } from '../../db/index.js';
import { accessTokenTable, sessionTable, userTable } from '../../db/schema.js';
import { systemRandom } from '../../server/deps.js';
import { generateId, generateTokenParts, hashVerifier } from '../../server/tokens/secrets.js';
import { formatToken } from '../../shared/token-format.js';
import type { TokenPair } from './ledger.js';

/** A signed-in session written straight into the database, with the tokens its client would hold. */
export interface SeededSession extends TokenPair {
  userId: string;
  sessionId: string;
}

const ROWS_PER_INSERT = 1000;

async function insertInBatches<T>(rows: readonly T[], insert: (batch: T[]) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) await insert(rows.slice(start, start + ROWS_PER_INSERT));
}

/**
 * Writes `users` accounts with `sessionsPerUser` sessions each, one live access token per session,
 * the rows the kit writes when someone signs in (grey-box: signing in 5,000 times through the API
 * would cost 5,000 password hashes and trip the per-account session limit, which is not what a
 * revocation storm is about). Accounts have no password; their sessions started now.
 */
export async function seedSessions(databaseUrl: string, plan: { users: number; sessionsPerUser: number; label: string }): Promise<SeededSession[]> {
  const db = await connectDatabase(databaseUrl);
  try {
    const now = new Date();
    const expiresAt = new Date(now.getTime() + 300_000);
    const users = Array.from({ length: plan.users }, (_, index) => ({
      userId: generateId(systemRandom),
      email: `${plan.label}-${process.pid}-${index}-${now.getTime().toString(36)}@example.test`,
      confirmed: true,
      insertedAt: now,
      updatedAt: now,
    }));
    const seeded: SeededSession[] = [];
    const sessions: Array<typeof sessionTable.$inferInsert> = [];
    const accessTokens: Array<typeof accessTokenTable.$inferInsert> = [];
    for (const user of users) {
      for (let i = 0; i < plan.sessionsPerUser; i++) {
        const sessionId = generateId(systemRandom);
        const refresh = generateTokenParts(systemRandom);
        const access = generateTokenParts(systemRandom);
        sessions.push({ id: sessionId, userId: user.userId, refreshSelector: refresh.selector, refreshVerifierHash: hashVerifier(refresh.verifier), createdAt: now, lastUsedAt: now });
        accessTokens.push({ selector: access.selector, verifierHash: hashVerifier(access.verifier), sessionId, userId: user.userId, expiresAt });
        seeded.push({ userId: user.userId, sessionId, accessToken: formatToken('access', access), refreshToken: formatToken('refresh', refresh) });
      }
    }
    await insertInBatches(users, (batch) => db.insert(userTable).values(batch));
    await insertInBatches(sessions, (batch) => db.insert(sessionTable).values(batch));
    await insertInBatches(accessTokens, (batch) => db.insert(accessTokenTable).values(batch));
    return seeded;
  } finally {
    await closeDatabase(db);
  }
}
