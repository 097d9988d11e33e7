import * as client from 'openid-client';
import type { Clock } from '../deps.js';
import type { OAuthProviderOptions } from './oauth-options.js';
import { GENERIC_OIDC, OAUTH_PRESETS } from './presets.js';
import type { OAuthPreset, ProfileKind } from './presets.js';

/*
 * A configured provider, ready to talk to. An OpenID Connect provider's metadata is discovered on
 * first use and kept for a day (a failed first discovery is tried again by the next call, not
 * remembered); openid-client checks that the document names the very issuer asked for. A day-old
 * document is fetched again, so an issuer that moves an endpoint is followed without a restart; were
 * the issuer down just then, the old document serves on and the next try waits a few minutes, so
 * sign-in does not fail while the provider's discovery does. Each call gets its own
 * `Configuration`: its requests share the call's deadline, and ID tokens are judged against the
 * kit's clock. ID-token signatures are always checked against the issuer's published keys (openid-
 * client's non-repudiation checks): over plain HTTP, or with a forged response, nothing else would
 * stop a token signed by some other key.
 */

export interface OAuthProvider {
  name: string;
  kind: 'oidc' | 'oauth2';
  profile: ProfileKind;
  scopes: readonly string[];
  /** The issuer the provider's identities are kept under; for OpenID Connect, the discovered one. */
  issuer: string;
  /** Where the user API lives: the override, else the preset's or the discovered userinfo endpoint. */
  userApi(metadata: client.ServerMetadata): { userinfo?: string; emails?: string };
  /** The authorization server's metadata (for OpenID Connect, discovered and kept for a day). */
  metadata(signal: AbortSignal): Promise<client.ServerMetadata>;
  /** A configuration for one call, whose requests end when `signal` aborts. */
  configure(metadata: client.ServerMetadata, signal: AbortSignal): client.Configuration;
  /** Keeps the issuer's keys openid-client fetched during a call, for the next. */
  keepKeys(config: client.Configuration): void;
}

/** Every request of a call ends with the call's deadline, beside openid-client's own timeout. */
export function fetchUntil(signal: AbortSignal): client.CustomFetch {
  return (url, options) =>
    fetch(url, {
      ...options,
      // openid-client sends a string or URLSearchParams: bodies fetch takes.
      body: options.body as RequestInit['body'],
      signal: options.signal ? AbortSignal.any([options.signal, signal]) : signal,
    });
}

/** How long a discovered document is trusted before it is fetched again. */
const METADATA_MAX_AGE_MS = 24 * 3_600_000;
/** After a failed fetch of a stale document, how long the old one serves before the next try. */
const METADATA_RETRY_MS = 5 * 60_000;

function isPlainHttp(url: string | undefined): boolean {
  return url !== undefined && url.startsWith('http:');
}

export function createOAuthProvider(name: string, options: OAuthProviderOptions, deps: { clock: Clock; timeoutMs: number }): OAuthProvider {
  const preset: OAuthPreset = options.preset ? OAUTH_PRESETS[options.preset] : GENERIC_OIDC;
  // An OpenID Connect issuer is compared exactly, so it is kept as written; a base URL loses its slash.
  const configured = options.issuer ?? preset.issuer;
  const issuer = preset.kind === 'oauth2' ? configured.replace(/\/+$/, '') : configured;
  const overrides: NonNullable<OAuthProviderOptions['endpoints']> = options.endpoints ?? {};
  const presetEndpoints = preset.endpoints?.(issuer);
  // Plain HTTP is allowed only to loopback addresses (checked with the options).
  const insecure = [issuer, overrides.authorization, overrides.token, overrides.userinfo, overrides.emails].some(isPlainHttp);
  const clientAuth = preset.clientAuth === 'basic' ? client.ClientSecretBasic(options.clientSecret) : client.ClientSecretPost(options.clientSecret);
  /** The discovered document, or its discovery in flight, and the kit's time after which it is fetched again. */
  let discovered: { metadata: Promise<client.ServerMetadata>; staleAt: number } | null = null;
  let keys: client.ExportedJWKSCache | undefined;

  async function discover(signal: AbortSignal): Promise<client.ServerMetadata> {
    const config = await client.discovery(new URL(issuer), options.clientId, undefined, undefined, {
      execute: insecure ? [client.allowInsecureRequests] : [],
      timeout: Math.ceil(deps.timeoutMs / 1000),
      [client.customFetch]: fetchUntil(signal),
    });
    // The helper method is dropped, never called: the metadata is kept as plain data.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const { supportsPKCE: _helper, ...found } = config.serverMetadata();
    return {
      ...found,
      authorization_endpoint: overrides.authorization ?? found.authorization_endpoint,
      token_endpoint: overrides.token ?? found.token_endpoint,
      userinfo_endpoint: overrides.userinfo ?? found.userinfo_endpoint,
    };
  }

  const staticMetadata: client.ServerMetadata | null =
    preset.kind === 'oauth2' && presetEndpoints
      ? { issuer, authorization_endpoint: overrides.authorization ?? presetEndpoints.authorization, token_endpoint: overrides.token ?? presetEndpoints.token }
      : null;

  return {
    name,
    kind: preset.kind,
    profile: preset.profile,
    scopes: options.scopes ?? preset.scopes,
    issuer,

    userApi(metadata) {
      return { userinfo: overrides.userinfo ?? presetEndpoints?.userinfo ?? metadata.userinfo_endpoint, emails: overrides.emails ?? presetEndpoints?.emails };
    },

    metadata(signal) {
      if (staticMetadata) return Promise.resolve(staticMetadata);
      const now = deps.clock.now();
      if (discovered && now < discovered.staleAt) return discovered.metadata;
      const stale = discovered;
      const fresh = discover(signal).catch((error: unknown) => {
        if (!stale) {
          discovered = null;
          throw error;
        }
        discovered = { metadata: stale.metadata, staleAt: deps.clock.now() + METADATA_RETRY_MS };
        return stale.metadata;
      });
      discovered = { metadata: fresh, staleAt: now + METADATA_MAX_AGE_MS };
      return fresh;
    },

    configure(metadata, signal) {
      // openid-client reads its own clock; this moves it onto the kit's (tests move the kit's).
      const clockSkew = Math.round((deps.clock.now() - Date.now()) / 1000);
      const config = new client.Configuration(metadata, options.clientId, { client_secret: options.clientSecret, [client.clockSkew]: clockSkew }, clientAuth);
      config.timeout = Math.ceil(deps.timeoutMs / 1000);
      config[client.customFetch] = fetchUntil(signal);
      if (insecure) client.allowInsecureRequests(config);
      if (preset.kind === 'oidc') {
        client.enableNonRepudiationChecks(config);
        if (keys) client.setJwksCache(config, keys);
      }
      return config;
    },

    keepKeys(config) {
      if (preset.kind === 'oidc') keys = client.getJwksCache(config) ?? keys;
    },
  };
}
