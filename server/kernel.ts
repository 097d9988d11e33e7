import type { AuthDatabase } from '../db/connect.js';
import type { AccessTokens } from './tokens/access-tokens.js';
import type { ApiTokens } from './tokens/api-tokens.js';
import type { BackgroundTasks } from './background.js';
import type { BasicMiddlewares } from './basic/basic-middleware.js';
import type { BearerCheck } from './middleware/bearer.js';
import type { Clock, Logger, RandomSource } from './deps.js';
import type { Devices } from './sessions/devices.js';
import type { LinkTokenGuard } from './middleware/link-token-guard.js';
import type { Mailer } from './mail/mailer.js';
import type { ResolvedAuthOptions } from './options.js';
import type { HashingTurns } from './passwords/hashing-turns.js';
import type { PasswordStrength } from './passwords/password-strength.js';
import type { RefreshCookie } from './sessions/refresh-cookie.js';
import type { Sessions } from './sessions/sessions.js';
import type { Throttles } from './limits/throttles.js';
import type { TokenCheck } from './tokens/token-check.js';
import type { TokenFailures } from './tokens/token-failures.js';

/** Everything a procedure of the auth router works with, built once by `createAuth`. */
export interface AuthKernel {
  options: ResolvedAuthOptions;
  db: AuthDatabase;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  /** The only way to hash: a turn in the bulkhead, counted per client (hashing-turns.ts). */
  hashing: HashingTurns;
  /** Whether a new password is too easy to guess (password-strength.ts). */
  passwordStrength: PasswordStrength;
  accessTokens: AccessTokens;
  apiTokens: ApiTokens;
  sessions: Sessions;
  mailer: Mailer;
  authenticate: BearerCheck;
  /** The token check behind `authenticate`, without its challenge: for a token that is only a sign. */
  checkToken: TokenCheck;
  basic: BasicMiddlewares;
  throttles: Throttles;
  /** Each client's failed token lookups, bearer, link and refresh tokens together (token-failures.ts). */
  tokenFailures: TokenFailures;
  /** In front of every procedure that spends a mailed link (link-token-guard.ts). */
  linkTokenGuard: LinkTokenGuard;
  background: BackgroundTasks;
  refreshCookie: RefreshCookie;
  /** Known devices and their cookie (devices.ts). */
  devices: Devices;
}
