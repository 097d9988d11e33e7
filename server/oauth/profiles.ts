import * as client from 'openid-client';
import { z } from 'zod';
import { emailSchema } from '../../shared/schemas.js';
import type { OAuthProvider } from './providers.js';

/*
 * Who the provider says the user is: its subject, and an address with whether it vouches for it.
 * For OpenID Connect that is the ID token, already checked (signature, issuer, audience, expiry,
 * nonce), and userinfo when the token carries no address (its `sub` must be the token's). The plain
 * OAuth 2.0 presets each have a user API of their own; its answers are read through a schema, so a
 * provider answering something else fails the sign-in instead of half-filling an account.
 */

/** The user as the provider vouches for them. */
export interface ProviderProfile {
  subject: string;
  /** Lower-cased; null when the provider gave none, or none that is an address. */
  email: string | null;
  /** Whether the provider vouches that `email` is the user's. */
  emailVerified: boolean;
}

type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

const MAX_BODY_CHARS = 1_000_000;
const subject = z.string().min(1).max(255);

const githubUser = z.object({ id: z.number().int() });
const githubEmails = z.array(z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() }));
const gitlabUser = z.object({ id: z.number().int(), email: z.string().nullish(), confirmed_at: z.string().nullish() });
const bitbucketUser = z.object({ uuid: subject });
const bitbucketEmails = z.object({ values: z.array(z.object({ email: z.string(), is_primary: z.boolean(), is_confirmed: z.boolean() })) });
const facebookUser = z.object({ id: subject, email: z.string().optional() });

function addressOf(value: unknown): string | null {
  const parsed = emailSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

function profile(subjectValue: string, email: unknown, vouched: boolean): ProviderProfile {
  const address = addressOf(email);
  return { subject: subject.parse(subjectValue), email: address, emailVerified: address !== null && vouched };
}

/** A GET of a provider's user API with the access token; fails on anything but a 2xx JSON answer. */
async function fetchJson(url: string, accessToken: string, signal: AbortSignal): Promise<unknown> {
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json', 'user-agent': 'trpc-auth-kit' },
    redirect: 'error',
    signal,
  });
  if (!response.ok) throw new Error(`${new URL(url).pathname} answered ${response.status}`);
  const text = await response.text();
  if (text.length > MAX_BODY_CHARS) throw new Error(`${new URL(url).pathname} answered too much`);
  return JSON.parse(text) as unknown;
}

function required(url: string | undefined, what: string): string {
  if (!url) throw new Error(`the provider has no ${what} endpoint`);
  return url;
}

export async function readProfile(
  provider: OAuthProvider,
  call: { config: client.Configuration; tokens: TokenResponse; signal: AbortSignal },
): Promise<ProviderProfile> {
  const { config, tokens, signal } = call;
  const api = provider.userApi(config.serverMetadata());
  const accessToken = tokens.access_token;
  switch (provider.profile) {
    case 'oidc': {
      const claims = tokens.claims();
      if (!claims) throw new Error('the token response has no ID token');
      if (typeof claims.email === 'string' || !api.userinfo) return profile(claims.sub, claims.email, claims.email_verified === true);
      const info = await client.fetchUserInfo(config, accessToken, claims.sub);
      return profile(claims.sub, info.email, info.email_verified === true);
    }
    case 'github': {
      const user = githubUser.parse(await fetchJson(required(api.userinfo, 'user'), accessToken, signal));
      const emails = githubEmails.parse(await fetchJson(required(api.emails, 'emails'), accessToken, signal));
      const primary = emails.find((entry) => entry.primary);
      return profile(String(user.id), primary?.email, primary?.verified === true);
    }
    case 'gitlab': {
      const user = gitlabUser.parse(await fetchJson(required(api.userinfo, 'user'), accessToken, signal));
      return profile(String(user.id), user.email, typeof user.confirmed_at === 'string');
    }
    case 'bitbucket': {
      const user = bitbucketUser.parse(await fetchJson(required(api.userinfo, 'user'), accessToken, signal));
      const emails = bitbucketEmails.parse(await fetchJson(required(api.emails, 'emails'), accessToken, signal));
      const primary = emails.values.find((entry) => entry.is_primary);
      return profile(user.uuid, primary?.email, primary?.is_confirmed === true);
    }
    case 'facebook': {
      const user = facebookUser.parse(await fetchJson(required(api.userinfo, 'user'), accessToken, signal));
      return profile(user.id, user.email, false);
    }
  }
}
