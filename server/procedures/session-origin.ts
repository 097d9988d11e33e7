import type { AuthBaseContext } from '../context.js';
import type { SessionOrigin } from '../sessions.js';

/** Where a sign-in came from, as the session list shows it. */
export function sessionOrigin(ctx: AuthBaseContext): SessionOrigin {
  return { userAgent: ctx.authRequest.userAgent, ip: ctx.authRequest.ip };
}
