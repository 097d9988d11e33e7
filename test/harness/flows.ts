import assert from 'node:assert/strict';
import { TRPCClientError } from '@trpc/client';
import { getAuthErrorCode } from '../../client/index.js';
import type { AuthErrorCode } from '../../shared/index.js';
import type { TestApp, TestKit } from './test-kit.js';
import { PASSWORD, uniqueEmail } from './test-kit.js';

/** The parts of a failed call's error that tests read. */
export interface FailedCall {
  message: string;
  data?: { code: string; httpStatus: number; path?: string; authCode?: string | null };
}

/** Asserts that a call fails with the auth code `code`, and returns the client error. */
export async function expectAuthError(call: Promise<unknown>, code: AuthErrorCode): Promise<FailedCall> {
  const error = await call.then(
    () => assert.fail(`expected ${code}, but the call succeeded`),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof TRPCClientError, `expected a TRPCClientError, got ${String(error)}`);
  assert.equal(getAuthErrorCode(error), code, `expected ${code}, got ${error.message}`);
  return error as FailedCall;
}

/** Registers an account and confirms it through the link the SMTP server received. */
export async function registerConfirmed(kit: TestKit, app: TestApp = kit, options: { email?: string; username?: string } = {}) {
  const email = options.email ?? uniqueEmail();
  await app.client().auth.register.mutate({ email, password: PASSWORD, username: options.username });
  const mail = await kit.smtp.waitForMail(email, (received) => received.token !== null);
  const { user, tokens } = await app.client().auth.confirmEmail.mutate({ token: mail.token as string, password: PASSWORD });
  assert.ok(tokens, 'confirming a sign-up signs in');
  return { email, user, tokens: withBodyRefreshToken(tokens) };
}

/** Tokens as a client outside cookie mode gets them: the refresh token in the body. */
export function withBodyRefreshToken<T extends { refreshToken: string | null }>(tokens: T): T & { refreshToken: string } {
  assert.ok(tokens.refreshToken, 'outside cookie mode the refresh token comes in the body');
  return { ...tokens, refreshToken: tokens.refreshToken };
}

/** Whether `app` takes `token` for a protected call (`auth.me`). */
export async function accepts(app: TestApp, token: string): Promise<boolean> {
  return app
    .client(token)
    .auth.me.query()
    .then(
      () => true,
      () => false,
    );
}
