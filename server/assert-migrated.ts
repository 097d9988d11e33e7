import type { AuthDatabase } from '../db/connect.js';
import { oauthIdentityTable } from '../db/schema.js';

const UNDEFINED_TABLE = '42P01';

/** Fails at start-up, with the remedy, when the kit's tables are missing, rather than in a request. */
export async function assertMigrated(db: AuthDatabase): Promise<void> {
  try {
    // The newest table: a database migrated by an older release of the kit lacks it.
    await db.select({ userId: oauthIdentityTable.userId }).from(oauthIdentityTable).limit(1);
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    if (cause?.code !== UNDEFINED_TABLE) throw error;
    throw new Error('createAuth: the database has no trpc-auth-kit tables; run migrate(db) from trpc-auth-kit/db first', { cause: error });
  }
}
