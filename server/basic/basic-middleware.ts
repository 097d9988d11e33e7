import { TRPCError, experimental_standaloneMiddleware } from '@trpc/server';
import type { AuthBaseContext, AuthRequest } from '../context.js';
import { authError } from '../errors.js';
import { isBasicScheme } from './authorization-header.js';
import type { BasicCheck, BasicClient, BasicOutcome } from './basic-check.js';
import type { BasicErrorVerbosity } from './basic-options.js';
import { REALM_NAME } from './basic-options.js';

/** The challenge of a realm (RFC 7617): UTF-8 is the only charset the RFC allows announcing. */
export function basicChallenge(realm: string): string {
  return `Basic realm="${realm}", charset="UTF-8"`;
}

function assertRealmName(realm: string): void {
  if (!REALM_NAME.test(realm)) throw new Error(`basicProcedure: "${realm}" is not a realm name (1-64 printable ASCII characters, no " or \\)`);
}

/**
 * The Basic middlewares of one `createAuth`. `basic(realm)` admits a client of the realm (as
 * `ctx.client`) and answers anything else with 401. `advertised(realm)` does the same for a request
 * that brings Basic credentials, and lets any other through (`ctx.client` null) to the checks that
 * follow it, adding the realm's challenge to whatever 401 they answer: a procedure that takes a
 * bearer token or a Basic client tells the caller of both.
 */
export function createBasicMiddlewares(check: BasicCheck, verbosity: BasicErrorVerbosity) {
  function refusal(request: AuthRequest, realm: string, outcome: Exclude<BasicOutcome, { ok: true }>): TRPCError {
    if (outcome.reason === 'rate limited') {
      request.setHeader('Retry-After', String(outcome.retryAfterSeconds));
      return authError('RATE_LIMITED');
    }
    if (verbosity === 'minimal') return new TRPCError({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' });
    request.setHeader('WWW-Authenticate', basicChallenge(realm));
    const error = authError('INVALID_CREDENTIALS');
    if (verbosity === 'debug') error.message = `INVALID_CREDENTIALS: ${outcome.detail}`;
    return error;
  }

  async function admit(request: AuthRequest, realm: string): Promise<BasicClient> {
    const outcome = await check.check(request, realm);
    if (!outcome.ok) throw refusal(request, realm, outcome);
    return outcome.client;
  }

  return {
    basic(realm: string) {
      assertRealmName(realm);
      return experimental_standaloneMiddleware<{ ctx: AuthBaseContext }>().create(async function basicClient({ ctx, next }) {
        const client = await admit(ctx.authRequest, realm);
        return next({ ctx: { client } });
      });
    },

    advertised(realm: string) {
      assertRealmName(realm);
      return experimental_standaloneMiddleware<{ ctx: AuthBaseContext }>().create(async function basicClientOrNext({ ctx, next }) {
        if (isBasicScheme(ctx.authRequest.authorization)) {
          const client: BasicClient | null = await admit(ctx.authRequest, realm);
          return next({ ctx: { client } });
        }
        const result = await next({ ctx: { client: null as BasicClient | null } });
        if (!result.ok && result.error.code === 'UNAUTHORIZED' && verbosity !== 'minimal') {
          ctx.authRequest.appendHeader('WWW-Authenticate', basicChallenge(realm));
        }
        return result;
      });
    },
  };
}

export type BasicMiddlewares = ReturnType<typeof createBasicMiddlewares>;
