import type { AuthBaseContext } from '../context.js';
import type { SessionOrigin } from '../sessions.js';

/** Where a sign-in came from, as the session list shows it; a refused start answers this request. */
export function sessionOrigin(ctx: AuthBaseContext): SessionOrigin {
  return ctx.authRequest;
}
