import type { AuthDatabase } from '../db/connect.js';
import type { AccessTokens } from './access-tokens.js';
import type { BackgroundTasks } from './background.js';
import type { BearerCheck } from './bearer.js';
import type { Clock, Logger, RandomSource } from './deps.js';
import type { Mailer } from './mail/mailer.js';
import type { ResolvedAuthOptions } from './options.js';
import type { PasswordHasher } from './passwords.js';
import type { RefreshCookie } from './refresh-cookie.js';
import type { Sessions } from './sessions.js';
import type { Throttles } from './throttles.js';

/** Everything a procedure of the auth router works with, built once by `createAuth`. */
export interface AuthKernel {
  options: ResolvedAuthOptions;
  db: AuthDatabase;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  passwords: PasswordHasher;
  accessTokens: AccessTokens;
  sessions: Sessions;
  mailer: Mailer;
  authenticate: BearerCheck;
  throttles: Throttles;
  background: BackgroundTasks;
  refreshCookie: RefreshCookie;
}
