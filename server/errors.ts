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
 * A refused input: a body that did not parse (tRPC's `PARSE_ERROR`), or input that failed its
 * schema or superjson (a `BAD_REQUEST` with the failure as its cause). A `BAD_REQUEST` an
 * application throws itself, with no cause, is its own and keeps its words.
 */
function isRefusedInput(error: TRPCError): boolean {
  return error.code === 'PARSE_ERROR' || (error.code === 'BAD_REQUEST' && error.cause !== undefined);
}

/**
 * The message a client may read. Stack traces stay on the server whatever mode the host runs in, and
 * so does the text of an unexpected failure (a database error quotes the query's parameters, a
 * password hash among them) and of a refused input: tRPC passes on the message of whatever threw
 * while reading the body (a JSON parser's, superjson's), which is internal text. A refused input
 * says `INVALID_INPUT`, its code.
 */
function publicMessage(error: TRPCError, message: string): string {
  if (error instanceof AuthError) return message;
  if (error.code === 'INTERNAL_SERVER_ERROR') return 'INTERNAL_SERVER_ERROR';
  if (isRefusedInput(error)) return 'INVALID_INPUT';
  return message;
}

/**
 * The kit's error formatter. A host application that keeps its own `initTRPC.create()` installs it
 * there, since a router mounted inside another loses its own formatter:
 *
 * @example
 * const t = initTRPC.context<HostContext>().create({ transformer: superjson, errorFormatter: authErrorFormatter });
 */
export function authErrorFormatter(opts: { shape: TRPCDefaultErrorShape; error: TRPCError }): AuthErrorShape {
  const { shape, error } = opts;
  const authCode = error instanceof AuthError ? error.authCode : isRefusedInput(error) ? 'INVALID_INPUT' : null;
  const { stack: _stack, ...data } = shape.data;
  return { ...shape, message: publicMessage(error, shape.message), data: { ...data, authCode } };
}
