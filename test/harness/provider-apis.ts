import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * GitHub, GitLab, Bitbucket and Facebook on loopback: their documented token endpoints and user APIs,
 * each under its own path (`/github`, `/gitlab`, …), with the kit's presets pointed at them. The user
 * "consents" through `authorize`, which reads the authorization URL the kit built as the provider
 * would (client, redirect URI, PKCE) and answers the code it would send back; a browser sent to the
 * authorization endpoint is redirected back with it at once, as for an app the user authorized before,
 * when a test has signed a user in there (`signIn`). Their quirks are kept:
 * GitHub answers a bad code with 200 and an error body, Bitbucket takes the client secret by Basic.
 */

export type ProviderApi = 'github' | 'gitlab' | 'bitbucket' | 'facebook';

/** A user at a provider: its id, and its address as the provider's API describes it. */
export interface ApiUser {
  id: string;
  email: string | null;
  /** GitHub `verified`, GitLab `confirmed_at`, Bitbucket `is_confirmed`; Facebook says nothing. */
  verified: boolean;
}

export const API_CLIENT = { clientId: 'kit-client', clientSecret: 'kit-client-secret-0123456789' } as const;

const AUTHORIZATION_PATHS: Record<ProviderApi, string> = {
  github: '/github/login/oauth/authorize',
  gitlab: '/gitlab/oauth/authorize',
  bitbucket: '/bitbucket/site/oauth2/authorize',
  facebook: '/facebook/dialog/oauth',
};

interface IssuedCode {
  api: ProviderApi;
  user: ApiUser;
  redirectUri: string;
  challenge: string | null;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

function clientOf(req: IncomingMessage, form: URLSearchParams): { id: string | null; secret: string | null } {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const [id, secret] = Buffer.from(basic[1] ?? '', 'base64').toString().split(':').map(decodeURIComponent);
    return { id: id ?? null, secret: secret ?? null };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret') };
}

/** What each API answers for a user, in its own shape. */
function userApis(user: ApiUser): Record<string, unknown> {
  return {
    '/github/user': { id: Number(user.id), login: `user${user.id}`, email: null },
    '/github/user/emails': user.email ? [{ email: user.email, primary: true, verified: user.verified, visibility: 'private' }] : [],
    '/gitlab/api/v4/user': { id: Number(user.id), username: `user${user.id}`, email: user.email, confirmed_at: user.verified ? '2026-01-01T00:00:00Z' : null },
    '/bitbucket/2.0/user': { uuid: `{${user.id}}`, account_id: user.id, display_name: 'A user' },
    '/bitbucket/2.0/user/emails': { values: user.email ? [{ email: user.email, is_primary: true, is_confirmed: user.verified }] : [] },
    '/facebook/me': { id: user.id, name: 'A user', ...(user.email && { email: user.email }) },
  };
}

export async function startProviderApis() {
  const codes = new Map<string, IssuedCode>();
  const accessTokens = new Map<string, ApiUser>();
  const state = { tokenRequests: 0 };
  const signedIn = new Map<ProviderApi, ApiUser>();

  const server = createServer((req, res) => {
    void route(req, res).catch((error: unknown) => json(res, 500, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const api = url.pathname.split('/')[1] as ProviderApi;
    if (req.method === 'POST' && (url.pathname === `/${api}/token` || url.pathname === '/gitlab/oauth/token')) return token(api, req, res);
    if (req.method === 'GET' && url.pathname === AUTHORIZATION_PATHS[api]) return consented(api, url, res);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const user = bearer === undefined ? undefined : accessTokens.get(bearer);
    if (!user) return json(res, 401, { message: 'Bad credentials' });
    const answer = userApis(user)[url.pathname];
    if (answer === undefined) return json(res, 404, { message: 'Not Found' });
    json(res, 200, answer);
  }

  /** The browser at the authorization endpoint: back to the app with a code, for the user signed in here. */
  function consented(api: ProviderApi, url: URL, res: ServerResponse): void {
    const user = signedIn.get(api);
    if (!user) return void res.writeHead(401, { 'content-type': 'text/plain' }).end('nobody is signed in here');
    const back = new URL(url.searchParams.get('redirect_uri') ?? '');
    for (const [name, value] of authorize(api, url.href, user)) back.searchParams.set(name, value);
    res.writeHead(302, { location: back.href }).end();
  }

  /** The user consents at `api`: answers the callback's query, as the provider's redirect carries it. */
  function authorize(api: ProviderApi, authorizationUrl: string, user: ApiUser): URLSearchParams {
    const query = new URL(authorizationUrl).searchParams;
    if (query.get('client_id') !== API_CLIENT.clientId || query.get('response_type') !== 'code') throw new Error('not an authorization request of the kit');
    const method = query.get('code_challenge_method');
    if (method !== null && method !== 'S256') throw new Error(`PKCE ${method}`);
    const code = randomBytes(16).toString('hex');
    codes.set(code, { api, user, redirectUri: query.get('redirect_uri') ?? '', challenge: query.get('code_challenge') });
    return new URLSearchParams({ code, state: query.get('state') ?? '' });
  }

  async function token(api: ProviderApi, req: IncomingMessage, res: ServerResponse): Promise<void> {
    state.tokenRequests++;
    const form = await readForm(req);
    const client = clientOf(req, form);
    const issued = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    const verifier = form.get('code_verifier');
    const pkceHolds = issued?.challenge == null || (verifier !== null && createHash('sha256').update(verifier).digest('base64url') === issued.challenge);
    const valid =
      client.id === API_CLIENT.clientId &&
      client.secret === API_CLIENT.clientSecret &&
      form.get('grant_type') === 'authorization_code' &&
      issued?.api === api &&
      issued.redirectUri === form.get('redirect_uri') &&
      pkceHolds;
    if (!valid || !issued) {
      // GitHub's way: 200, and the error in the body.
      if (api === 'github') return json(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
      return json(res, 400, { error: 'invalid_grant' });
    }
    const accessToken = `canary-access-token-${randomBytes(12).toString('hex')}`;
    accessTokens.set(accessToken, issued.user);
    json(res, 200, { access_token: accessToken, token_type: api === 'facebook' ? 'bearer' : 'Bearer', expires_in: 3600 });
  }

  return {
    base,
    /** The kit's `endpoints` for a preset pointed here (GitLab is pointed by its base URL instead). */
    endpoints(api: Exclude<ProviderApi, 'gitlab'>) {
      const paths = {
        github: { authorization: AUTHORIZATION_PATHS.github, token: '/github/token', userinfo: '/github/user', emails: '/github/user/emails' },
        bitbucket: { authorization: AUTHORIZATION_PATHS.bitbucket, token: '/bitbucket/token', userinfo: '/bitbucket/2.0/user', emails: '/bitbucket/2.0/user/emails' },
        facebook: { authorization: AUTHORIZATION_PATHS.facebook, token: '/facebook/token', userinfo: '/facebook/me?fields=id,name,email' },
      }[api];
      return Object.fromEntries(Object.entries(paths).map(([name, path]) => [name, `${base}${path}`]));
    },
    authorize,
    /** `user` is signed in at `api`, for the browsers sent to its authorization endpoint; null: nobody. */
    signIn(api: ProviderApi, user: ApiUser | null): void {
      if (user) signedIn.set(api, user);
      else signedIn.delete(api);
    },
    get tokenRequests(): number {
      return state.tokenRequests;
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type ProviderApis = Awaited<ReturnType<typeof startProviderApis>>;
