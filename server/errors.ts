import { TRPCError } from '@trpc/server';
import type { TRPCDefaultErrorShape } from '@trpc/server';
import { AUTH_ERROR_CODES } from '../shared/errors.js';
import type { AuthErrorCode } from '../shared/errors.js';

/** A failure the client is meant to act on; its message is its code, so the code survives any formatter. */
export class AuthError extends TRPCError {
  readonly authCode: AuthErrorCode;

  constructor(authCode: AuthErrorCode, cause?: unknown) {
    super({ code: AUTH_ERROR_CODES[authCode], message: authCode, cause });
    this.name = 'AuthError';
    this.authCode = authCode;
  }
}

export function authError(code: AuthErrorCode, cause?: unknown): AuthError {
  return new AuthError(code, cause);
}

/** The error shape the kit's tRPC instance sends: tRPC's default plus `data.authCode`. */
export type AuthErrorShape = TRPCDefaultErrorShape & {
  data: TRPCDefaultErrorShape['data'] & { authCode: AuthErrorCode | null };
};

/**
 * The kit's error formatter. A host application that keeps its own `initTRPC.create()` installs it
 * there, since a router mounted inside another loses its own formatter:
 *
 * @example
 * const t = initTRPC.context<HostContext>().create({ transformer: superjson, errorFormatter: authErrorFormatter });
 */
export function authErrorFormatter(opts: { shape: TRPCDefaultErrorShape; error: TRPCError }): AuthErrorShape {
  const { shape, error } = opts;
  const authCode = error instanceof AuthError ? error.authCode : error.code === 'BAD_REQUEST' ? 'INVALID_INPUT' : null;
  // Stack traces stay on the server whatever mode the host runs in, and so does the text of an
  // unexpected failure: a database error quotes the query's parameters, a password hash among them.
  const { stack: _stack, ...data } = shape.data;
  const message = error.code === 'INTERNAL_SERVER_ERROR' ? 'INTERNAL_SERVER_ERROR' : shape.message;
  return { ...shape, message, data: { ...data, authCode } };
}
