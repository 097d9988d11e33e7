import { z } from 'zod';
import { OAUTH_PRESETS } from './presets.js';
import type { OAuthPresetName } from './presets.js';

/** One provider of `oauth.providers`: a preset, an OpenID Connect issuer found by discovery, or both. */
export interface OAuthProviderOptions {
  /** Endpoints, scopes and the way to read a vouched-for address, for a well-known provider. */
  preset?: OAuthPresetName;
  /**
   * Without a preset: the issuer of a generic OpenID Connect provider, found by discovery
   * (`<issuer>/.well-known/openid-configuration`). With `google`: its issuer (tests point it at their
   * own). With `gitlab`: the base URL of a self-managed instance. @default the preset's
   */
  issuer?: string;
  clientId: string;
  clientSecret: string;
  /** @default the preset's (`openid email profile` for OpenID Connect) */
  scopes?: string[];
  /** Replaces any endpoint the preset or the discovery document names. */
  endpoints?: { authorization?: string; token?: string; userinfo?: string; emails?: string };
}

/** Sign-in with OAuth 2.0 and OpenID Connect providers (`auth.oauth.*`). */
export interface OAuthOptions {
  /** By name (`github`, `corp-sso`): the name is what `oauth.start` and `auth.settings` use. */
  providers: Record<string, OAuthProviderOptions>;
  /** Whether an identity no account holds makes a new account. @default signup.enabled */
  allowSignUp?: boolean;
  /**
   * Whether an identity joins the account that has its address, by itself, when the provider vouches
   * for the address (README, "Linking rules"). Off, such an identity is refused (`OAUTH_EMAIL_IN_USE`)
   * until its owner links it with `oauth.link`. @default true
   */
  linkByEmail?: boolean;
  /**
   * Where `redirectTo` may point: URLs whose origin is one of these and whose path lies under its
   * path. A relative `redirectTo` is read against `mail.appUrl`. @default [mail.appUrl]
   */
  redirectAllowlist?: string[];
  /** The redirect URI registered at every provider: the app's page that calls `oauth.callback`. @default `${mail.appUrl}/oauth/callback` */
  callbackUrl?: string;
  /**
   * How long a call may wait for a provider, all its requests together (discovery, the token
   * exchange, the profile); beyond it the call answers `OAUTH_FAILED`. @default 8000
   */
  timeoutMs?: number;
}

/** Plain `http:` only to this machine, where a test or a local issuer runs; https everywhere else. */
export function isAllowedEndpoint(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopback(url.hostname);
}

export function isLoopback(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

const endpoint = z.string().refine(isAllowedEndpoint, 'an https URL (http only to 127.0.0.1, localhost or [::1])');

const providerSchema = z
  .strictObject({
    preset: z.enum(Object.keys(OAUTH_PRESETS) as [OAuthPresetName, ...OAuthPresetName[]]).optional(),
    issuer: endpoint.optional(),
    clientId: z.string().min(1).max(512),
    clientSecret: z.string().min(1).max(1024),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, 'a scope: printable ASCII, no space, quote or backslash')).max(32).optional(),
    endpoints: z.strictObject({ authorization: endpoint.optional(), token: endpoint.optional(), userinfo: endpoint.optional(), emails: endpoint.optional() }).optional(),
  })
  .refine((provider) => provider.preset !== undefined || provider.issuer !== undefined, {
    message: 'a provider needs a preset or an issuer (a generic OpenID Connect provider)',
  });

export const oauthOptionsSchema = z
  .strictObject({
    providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a provider name: 1-32 of a-z 0-9 _ -, starting with a letter or digit'), providerSchema),
    allowSignUp: z.boolean().optional(),
    linkByEmail: z.boolean().default(true),
    redirectAllowlist: z.array(z.url({ protocol: /^https?$/ })).min(1).optional(),
    callbackUrl: z.url({ protocol: /^https?$/ }).optional(),
    timeoutMs: z.number().int().min(100).max(30_000).default(8000),
  })
  .prefault({ providers: {} });

/** `oauth` with every default filled in; no providers when the option is absent. */
export interface ResolvedOAuthOptions {
  providers: Record<string, OAuthProviderOptions>;
  allowSignUp: boolean;
  linkByEmail: boolean;
  redirectAllowlist: string[];
  callbackUrl: string;
  timeoutMs: number;
}

/** Fills in the defaults that depend on other options (`mail.appUrl`, `signup.enabled`). */
export function resolveOAuthOptions(parsed: z.output<typeof oauthOptionsSchema>, others: { appUrl: string; signupEnabled: boolean }): ResolvedOAuthOptions {
  const appUrl = others.appUrl.replace(/\/+$/, '');
  return {
    providers: parsed.providers,
    allowSignUp: parsed.allowSignUp ?? others.signupEnabled,
    linkByEmail: parsed.linkByEmail,
    redirectAllowlist: parsed.redirectAllowlist ?? [others.appUrl],
    callbackUrl: parsed.callbackUrl ?? `${appUrl}/oauth/callback`,
    timeoutMs: parsed.timeoutMs,
  };
}
