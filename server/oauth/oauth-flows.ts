import * as client from 'openid-client';
import type { OAuthFlowRow } from '../../db/schema.js';
import type { AuthRequest } from '../context.js';
import { AuthError, authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { STATE_FORMAT, bindFlowBrowser, codeVerifierFor, flowBrowserOf, hashState, newState, nonceFor } from './flow-secrets.js';
import { FLOW_TTL_MS, saveFlow, takeFlow } from './flow-store.js';
import type { ProvenIdentity } from './identities.js';
import { readProfile } from './profiles.js';
import { createOAuthProvider } from './providers.js';
import type { OAuthProvider } from './providers.js';
import { allowedRedirect } from './redirect-allowlist.js';

/*
 * The two halves of a flow. `start` records it (flow-store.ts) and answers the provider's
 * authorization URL: PKCE S256 always, a nonce for OpenID Connect, the state that names the flow.
 * `finish` spends the flow of the callback's state and the browser's cookie, refuses a callback
 * meant for another provider (the flow's provider, and the RFC 9207 `iss` when sent, must be this
 * one's: a mix-up is refused before the code goes anywhere), exchanges the code, and reads the
 * profile. Whatever goes wrong at the provider (a refusal, an answer that fails a check, no answer
 * within `oauth.timeoutMs`) is logged and answered `OAUTH_FAILED`: the same for every cause, so the
 * answer reflects nothing the provider or an attacker put in the response.
 */

export interface OAuthFlows {
  /** The configured providers' names, as `auth.settings` lists them. */
  names: string[];
  start(request: AuthRequest, flow: { provider: string; redirectTo: string | undefined; linkUserId: string | null }): Promise<{ url: string }>;
  finish(request: AuthRequest, callback: { provider: string; code: string; state: string; iss?: string | undefined }): Promise<{ identity: ProvenIdentity; flow: OAuthFlowRow }>;
}

export function createOAuthFlows(kernel: AuthKernel): OAuthFlows {
  const { oauth, mail } = kernel.options;
  const { db, clock, random, logger } = kernel;
  const providers = new Map<string, OAuthProvider>(
    Object.entries(oauth.providers).map(([name, options]) => [name, createOAuthProvider(name, options, { clock, timeoutMs: oauth.timeoutMs })]),
  );

  function providerNamed(name: string): OAuthProvider {
    const provider = providers.get(name);
    if (!provider) throw authError('OAUTH_PROVIDER_UNKNOWN');
    return provider;
  }

  /** Runs the provider's part of a call; any failure there is logged and becomes OAUTH_FAILED. */
  async function atProvider<T>(provider: OAuthProvider, step: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof AuthError) throw error;
      const { name, message, code } = error as { name?: string; message?: string; code?: unknown };
      logger.warn('oauth: provider step failed', { provider: provider.name, step, error: name, code, reason: message });
      throw authError('OAUTH_FAILED', error);
    }
  }

  return {
    names: [...providers.keys()],

    async start(request, flow) {
      const provider = providerNamed(flow.provider);
      const returnTo = allowedRedirect(flow.redirectTo, { allowlist: oauth.redirectAllowlist, appUrl: mail.appUrl });
      if (returnTo === null) throw authError('REDIRECT_NOT_ALLOWED');
      // Each start stores a flow: a client without a cookie is a new browser every time, so it is
      // counted by its address, before anything is asked of the provider or written.
      await kernel.throttles.beginOAuthFlow(request);
      const signal = AbortSignal.timeout(oauth.timeoutMs);
      const metadata = await atProvider(provider, 'discovery', () => provider.metadata(signal));
      const browser = bindFlowBrowser(request, random);
      const state = newState(random);
      const now = clock.now();
      await saveFlow(db, {
        stateHash: hashState(state),
        browserHash: browser.hash,
        provider: provider.name,
        issuer: metadata.issuer,
        redirectUri: oauth.callbackUrl,
        returnTo,
        linkUserId: flow.linkUserId,
        createdAt: new Date(now),
        expiresAt: new Date(now + FLOW_TTL_MS),
      });
      const parameters: Record<string, string> = {
        redirect_uri: oauth.callbackUrl,
        scope: provider.scopes.join(' '),
        state,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifierFor(browser, state)),
        code_challenge_method: 'S256',
      };
      if (provider.kind === 'oidc') parameters.nonce = nonceFor(browser, state);
      return { url: client.buildAuthorizationUrl(provider.configure(metadata, signal), parameters).href };
    },

    async finish(request, callback) {
      const provider = providerNamed(callback.provider);
      const browser = flowBrowserOf(request);
      if (browser === null || !STATE_FORMAT.test(callback.state)) throw authError('OAUTH_FAILED');
      // A state is a token: one that names no flow is counted against the client's allowance of
      // failed lookups, as a made-up bearer or link token is, so guessing costs a query only so often.
      const admission = kernel.tokenFailures.admit(request.ip);
      if (!admission.allowed) {
        request.setHeader('Retry-After', String(admission.retryAfterSeconds));
        throw authError('RATE_LIMITED');
      }
      const flow = await takeFlow(db, { stateHash: hashState(callback.state), browserHash: browser.hash, now: clock.now() });
      await kernel.tokenFailures.settle(request.ip, flow === null);
      if (flow === null) throw authError('OAUTH_FAILED');
      if (flow.provider !== provider.name || (callback.iss !== undefined && callback.iss !== flow.issuer)) {
        logger.warn('oauth: a callback for another provider (mix-up) refused', { provider: provider.name, flowProvider: flow.provider });
        throw authError('OAUTH_FAILED');
      }
      const signal = AbortSignal.timeout(oauth.timeoutMs);
      const profile = await atProvider(provider, 'callback', async () => {
        const metadata = await provider.metadata(signal);
        if (metadata.issuer !== flow.issuer) throw new Error('the provider names another issuer than when the flow started');
        const config = provider.configure(metadata, signal);
        const answer = new URL(flow.redirectUri);
        answer.searchParams.set('code', callback.code);
        answer.searchParams.set('state', callback.state);
        if (callback.iss !== undefined) answer.searchParams.set('iss', callback.iss);
        const oidc = provider.kind === 'oidc';
        const tokens = await client.authorizationCodeGrant(config, answer, {
          pkceCodeVerifier: codeVerifierFor(browser, callback.state),
          expectedState: callback.state,
          ...(oidc && { expectedNonce: nonceFor(browser, callback.state), idTokenExpected: true }),
        });
        provider.keepKeys(config);
        return readProfile(provider, { config, tokens, signal });
      });
      return { identity: { ...profile, provider: provider.name, issuer: flow.issuer }, flow };
    },
  };
}
