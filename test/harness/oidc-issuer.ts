import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { CookieJar } from './cookie-jar.js';

/*
 * A real OpenID Connect issuer (oidc-provider) on loopback, for the kit to sign in with. A test logs a
 * user in without any form, through oidc-provider's interaction API (`authorize`); a browser gets a
 * login form (an account name, no password) that finishes the interaction the same way, or declines
 * (`access_denied`, with markup in its description). In front of its
 * token endpoint the harness can misbehave as a hostile or broken issuer would: rewrite the ID token
 * (`tamper`, re-signed with the issuer's own key unless the tamper signs otherwise), hang, or fail.
 */

export interface IdTokenParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

export type TokenEndpointMode = 'normal' | 'hang' | 'fail';

/** Two clients, one per way of sending the secret: the generic preset's and Google's. */
export const OIDC_CLIENTS = {
  basic: { clientId: 'kit-basic', clientSecret: 'kit-basic-secret-0123456789abcdef' },
  post: { clientId: 'kit-post', clientSecret: 'kit-post-secret-0123456789abcdef' },
} as const;

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** A JWT from its parts, RS256-signed by `key`; `alg: none` gets no signature. */
export function signJwt(parts: IdTokenParts, key: KeyObject): string {
  const input = `${base64url(JSON.stringify(parts.header))}.${base64url(JSON.stringify(parts.payload))}`;
  if (parts.header.alg === 'none') return `${input}.`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

function decodeJwt(token: string): IdTokenParts {
  const [header, payload] = token.split('.');
  return { header: JSON.parse(Buffer.from(header ?? '', 'base64url').toString()) as Record<string, unknown>, payload: JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown> };
}

/** The issuer's login page, at the interaction's own path (where its cookie is sent). */
function loginPage(uid: string): string {
  const action = `/interaction/${encodeURIComponent(uid)}/login`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test issuer: sign in</title></head>
<body style="font: 15px system-ui, sans-serif; max-width: 24rem; margin: 3rem auto">
<h1 style="font-size: 1.2rem">Test issuer</h1><p>Sign in to continue to the application.</p>
<form action="${action}" method="get" aria-label="issuer login"><label>Account <input name="sub" required></label> <button>Sign in</button></form>
<form action="/interaction/${encodeURIComponent(uid)}/cancel" method="get"><button>Cancel</button></form>
</body></html>`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startOidcIssuer(options: { redirectUri: string; claimsInIdToken?: boolean }) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const accounts = new Map<string, Record<string, unknown>>();
  const state = {
    tamper: null as ((token: IdTokenParts, key: KeyObject) => string) | null,
    tokenEndpoint: 'normal' as TokenEndpointMode,
    tokenRequests: 0,
    discoveryRequests: 0,
    discoveryFails: false,
  };

  const server = createServer((req, res) => {
    void route(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer);
    const page = /^\/interaction\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && page) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(decodeURIComponent(page[1] ?? '')));
      return;
    }
    if (/^\/interaction\/[^/]+\/cancel$/.test(url.pathname)) {
      // The user declines; the description is markup, as a hostile issuer's could be.
      const refusal = { error: 'access_denied', error_description: '<img src=x onerror="window.issuerScriptRan=1">' };
      await instance.interactionFinished(req, res, refusal, { mergeWithLastSubmission: false });
      return;
    }
    if (url.pathname.startsWith('/test-login/') || /^\/interaction\/[^/]+\/login$/.test(url.pathname)) {
      // What a login form would do once the user typed their password: finish the interaction.
      await instance.interactionFinished(req, res, { login: { accountId: url.searchParams.get('sub') } }, { mergeWithLastSubmission: false });
      return;
    }
    if (url.pathname === '/.well-known/openid-configuration') {
      state.discoveryRequests++;
      if (state.discoveryFails) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
        return;
      }
    }
    if (url.pathname === '/token' && req.headers['x-harness-forwarded'] === undefined) {
      state.tokenRequests++;
      if (state.tokenEndpoint === 'hang') return;
      if (state.tokenEndpoint === 'fail') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
        return;
      }
      const tamper = state.tamper;
      if (tamper) {
        const answer = await fetch(`${issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': String(req.headers['content-type']), authorization: req.headers.authorization ?? '', 'x-harness-forwarded': '1' },
          body: await readBody(req),
        });
        const body = (await answer.json()) as Record<string, unknown>;
        if (typeof body.id_token === 'string') body.id_token = tamper(decodeJwt(body.id_token), privateKey);
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
    }
    handle(req, res);
  }

  const claimsInIdToken = options.claimsInIdToken ?? false;
  const instance = new Provider(issuer, {
    clients: [
      { client_id: OIDC_CLIENTS.basic.clientId, client_secret: OIDC_CLIENTS.basic.clientSecret, redirect_uris: [options.redirectUri], token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: OIDC_CLIENTS.post.clientId, client_secret: OIDC_CLIENTS.post.clientSecret, redirect_uris: [options.redirectUri], token_endpoint_auth_method: 'client_secret_post' },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] },
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, ...accounts.get(id) }) }),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: false } },
    // Google puts the address in the ID token; a conforming issuer only in userinfo.
    conformIdTokenClaims: !claimsInIdToken,
    cookies: { keys: ['test-issuer-cookie-key'] },
    // A first-party client: every scope granted without a consent screen.
    loadExistingGrant: async (ctx: { oidc: { client: { clientId: string }; session: { accountId: string } } }) => {
      const grant = new instance.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  const handle = instance.callback();

  return {
    issuer,
    kid,
    /** The claims the issuer gives `sub` (email, email_verified, name). */
    setAccount(sub: string, claims: Record<string, unknown>): void {
      accounts.set(sub, claims);
    },
    /**
     * The browser at the issuer: opens the authorization URL, logs `sub` in through the interaction
     * API, and follows the redirects to the app's callback; answers the callback's query.
     */
    async authorize(authorizationUrl: string, sub: string): Promise<URLSearchParams> {
      const jar = new CookieJar();
      const first = await jar.get(authorizationUrl);
      const interaction = /\/interaction\/([^/?]+)/.exec(first ?? '');
      if (!interaction) throw new Error(`the issuer did not ask for a login: ${first}`);
      const resume = await jar.get(`${issuer}/test-login/${interaction[1]}?sub=${encodeURIComponent(sub)}`);
      const callback = await jar.get(new URL(resume ?? '', issuer).href);
      if (!callback) throw new Error('the issuer did not redirect back');
      return new URL(callback).searchParams;
    },
    /** Rewrites the ID token of every token response until set to null. */
    set tamper(tamper: ((token: IdTokenParts, key: KeyObject) => string) | null) {
      state.tamper = tamper;
    },
    set tokenEndpoint(mode: TokenEndpointMode) {
      state.tokenEndpoint = mode;
    },
    /** Whether the discovery document answers 503. */
    set discoveryFails(fails: boolean) {
      state.discoveryFails = fails;
    },
    /** Requests for the discovery document that reached the issuer. */
    get discoveryRequests(): number {
      return state.discoveryRequests;
    },
    /** Token requests that reached the issuer. */
    get tokenRequests(): number {
      return state.tokenRequests;
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type OidcIssuer = Awaited<ReturnType<typeof startOidcIssuer>>;
