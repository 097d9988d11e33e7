/*
 * The well-known providers, as data. An OpenID Connect preset (Google) names its issuer and is found
 * by discovery; the others speak plain OAuth 2.0 and name their endpoints, and `profile` says how
 * their user API tells who the user is and whether it vouches for the address. `issuer` of a plain
 * OAuth 2.0 preset is no discovery URL: it is the namespace its identities are kept under, (issuer,
 * subject). Every endpoint can be replaced by the provider's options (`endpoints`).
 */

/** How a provider's user is read: from the ID token (and userinfo), or from its own user API. */
export type ProfileKind = 'oidc' | 'github' | 'gitlab' | 'bitbucket' | 'facebook';

export interface OAuthEndpoints {
  authorization: string;
  token: string;
  /** The user API: OpenID Connect userinfo, or the provider's own `/user`. */
  userinfo?: string;
  /** The list of the user's addresses and which are verified (GitHub, Bitbucket). */
  emails?: string;
}

export interface OAuthPreset {
  kind: 'oidc' | 'oauth2';
  issuer: string;
  scopes: readonly string[];
  /** How the client secret travels to the token endpoint. */
  clientAuth: 'basic' | 'post';
  profile: ProfileKind;
  /** For plain OAuth 2.0 presets; an OpenID Connect one takes them from discovery. */
  endpoints?: (issuer: string) => OAuthEndpoints;
}

export const OAUTH_PRESETS = {
  // Vouches by `email_verified` in the ID token.
  google: { kind: 'oidc', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'], clientAuth: 'post', profile: 'oidc' },
  // Vouches for the primary address when /user/emails marks it verified.
  github: {
    kind: 'oauth2',
    issuer: 'https://github.com',
    scopes: ['read:user', 'user:email'],
    clientAuth: 'post',
    profile: 'github',
    endpoints: () => ({
      authorization: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      userinfo: 'https://api.github.com/user',
      emails: 'https://api.github.com/user/emails',
    }),
  },
  // `issuer` is the instance's base URL (gitlab.com or a self-managed one); vouches by `confirmed_at`.
  gitlab: {
    kind: 'oauth2',
    issuer: 'https://gitlab.com',
    scopes: ['read_user'],
    clientAuth: 'post',
    profile: 'gitlab',
    endpoints: (base) => ({ authorization: `${base}/oauth/authorize`, token: `${base}/oauth/token`, userinfo: `${base}/api/v4/user` }),
  },
  // Vouches for the primary address when /user/emails marks it confirmed.
  bitbucket: {
    kind: 'oauth2',
    issuer: 'https://bitbucket.org',
    scopes: ['account', 'email'],
    clientAuth: 'basic',
    profile: 'bitbucket',
    endpoints: () => ({
      authorization: 'https://bitbucket.org/site/oauth2/authorize',
      token: 'https://bitbucket.org/site/oauth2/access_token',
      userinfo: 'https://api.bitbucket.org/2.0/user',
      emails: 'https://api.bitbucket.org/2.0/user/emails',
    }),
  },
  // Never vouches: the Graph API does not say whether the address was verified.
  facebook: {
    kind: 'oauth2',
    issuer: 'https://www.facebook.com',
    scopes: ['email', 'public_profile'],
    clientAuth: 'post',
    profile: 'facebook',
    endpoints: () => ({
      authorization: 'https://www.facebook.com/v21.0/dialog/oauth',
      token: 'https://graph.facebook.com/v21.0/oauth/access_token',
      userinfo: 'https://graph.facebook.com/v21.0/me?fields=id,name,email',
    }),
  },
} as const satisfies Record<string, OAuthPreset>;

export type OAuthPresetName = keyof typeof OAUTH_PRESETS;

/** A generic OpenID Connect provider: everything from discovery. */
export const GENERIC_OIDC: OAuthPreset = { kind: 'oidc', issuer: '', scopes: ['openid', 'email', 'profile'], clientAuth: 'basic', profile: 'oidc' };
