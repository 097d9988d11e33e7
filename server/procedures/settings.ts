import { authSettingsSchema } from '../../shared/schemas.js';
import type { AuthSettings } from '../../shared/types.js';
import type { AuthKernel } from '../kernel.js';
import { authProcedure } from '../trpc.js';

/** `auth.settings`: what a client needs to know to draw its sign-in and sign-up forms. */
export function settingsProcedure(kernel: AuthKernel) {
  const { signup, password, tokens, magicLink, anonymous } = kernel.options;
  const settings: AuthSettings = {
    signupEnabled: signup.enabled,
    emailConfirmation: signup.emailConfirmation,
    magicLink: magicLink.enabled,
    anonymousSignIn: anonymous.enabled,
    providers: Object.keys(kernel.options.oauth.providers),
    passwordMinLength: password.minLength,
    accessTokenTtlSeconds: tokens.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: tokens.refreshTokenTtlSeconds,
  };
  return authProcedure.output(authSettingsSchema).query(() => settings);
}
