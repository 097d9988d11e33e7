// `node --import tsx bench/oauth-callback.ts` (add `--json` for one JSON object): what the kit adds
// to an OAuth callback. A real OpenID Connect issuer (oidc-provider, on loopback) signs a user in;
// A is `auth.oauth.callback` over HTTP, end to end (the flow spent, the code exchanged, the ID token
// checked, userinfo read, the account found, a session opened); B is the provider's own part alone,
// the token request and the userinfo request a client must make anyway, sent straight with fetch.
// A and B alternate, round by round, so a load on the machine weighs on both; the figures are
// medians, and the requests the kit sent to the issuer during the A rounds are counted by path (a
// discovery document or key set fetched per callback would show here). PGlite in memory, or the
// PostgreSQL server at TEST_DATABASE_URL.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import * as client from 'openid-client';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { createAuth } from '../server/index.js';
import { browserAt } from '../test/harness/kit-browser.js';
import { OIDC_CLIENTS, startOidcIssuer } from '../test/harness/oidc-issuer.js';
import { countQueries } from '../test/harness/query-counter.js';

const ROUNDS = Number(process.env.ROUNDS ?? 60);
const WARMUP = 5;
const asJson = process.argv.includes('--json');
const APP_URL = 'https://app.example.test';
const REDIRECT_URI = `${APP_URL}/oauth/callback`;

// The kit's requests to the issuer, by path, while `counting` (the bench's own go through `baseFetch`).
const baseFetch = globalThis.fetch;
const kitRequests = new Map<string, number>();
let counting = false;
// How long the callback under way waited for the issuer's answers (headers and body).
let waitedMs = 0;
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (!counting || url.origin !== issuer.issuer) return baseFetch(input, init);
  kitRequests.set(url.pathname, (kitRequests.get(url.pathname) ?? 0) + 1);
  const started = performance.now();
  const response = await baseFetch(input, init);
  const body = await response.arrayBuffer();
  waitedMs += performance.now() - started;
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const issuer = await startOidcIssuer({ redirectUri: REDIRECT_URI });
issuer.setAccount('bench-user', { email: 'bench@example.test', email_verified: true, name: 'Bench User' });
const databaseUrl = process.env.TEST_DATABASE_URL ?? 'memory://';
const db = await connectDatabase(databaseUrl);
await migrate(db);
const auth = await createAuth({
  db,
  mail: { transport: { sendMail: () => Promise.resolve() }, from: 'auth@app.example.test', appUrl: APP_URL },
  rateLimits: { oauthFlowsPerIp: 100_000, sessionsPerIp: 100_000, sessionsPerAccount: 100_000 },
  oauth: { providers: { corp: { issuer: issuer.issuer, ...OIDC_CLIENTS.basic } } },
  logger: { info() {}, warn() {}, error() {} },
});
const server = createHTTPServer({ router: auth.router({ auth: auth.authRouter }), createContext: auth.createContext });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const waits: number[] = [];
const statementCounts: number[] = [];

/** A: the kit's callback, after a flow started and the user logged in at the issuer (not timed). */
async function kitCallback(): Promise<number> {
  const browser = browserAt(appUrl);
  const { url } = await browser.client.auth.oauth.start.mutate({ provider: 'corp' });
  const query = await issuer.authorize(url, 'bench-user');
  waitedMs = 0;
  const statements = countQueries(db);
  const started = performance.now();
  counting = true;
  await browser.client.auth.oauth.callback.mutate({ provider: 'corp', code: query.get('code') ?? '', state: query.get('state') ?? '', iss: query.get('iss') ?? undefined });
  counting = false;
  statements.stop();
  waits.push(waitedMs);
  statementCounts.push(statements.queries);
  return performance.now() - started;
}

/** B: the same client's token request and userinfo request, made straight, after the same login. */
async function providerAlone(): Promise<number> {
  const verifier = randomBytes(32).toString('base64url');
  const authorization = new URL(`${issuer.issuer}/auth`);
  for (const [name, value] of Object.entries({
    client_id: OIDC_CLIENTS.basic.clientId,
    response_type: 'code',
    scope: 'openid email profile',
    redirect_uri: REDIRECT_URI,
    state: randomBytes(16).toString('base64url'),
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })) {
    authorization.searchParams.set(name, value);
  }
  const query = await issuer.authorize(authorization.href, 'bench-user');
  const basic = Buffer.from(`${OIDC_CLIENTS.basic.clientId}:${OIDC_CLIENTS.basic.clientSecret}`).toString('base64');
  const started = performance.now();
  const tokenResponse = await baseFetch(`${issuer.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: query.get('code') ?? '', redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  const tokens = (await tokenResponse.json()) as { access_token?: string };
  if (!tokens.access_token) throw new Error(`the token request failed: ${JSON.stringify(tokens)}`);
  const userinfo = await baseFetch(`${issuer.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  if (!userinfo.ok) throw new Error(`userinfo answered ${userinfo.status}`);
  await userinfo.json();
  return performance.now() - started;
}

for (let round = 0; round < WARMUP; round++) {
  await kitCallback();
  await providerAlone();
}
kitRequests.clear();
waits.length = 0;
statementCounts.length = 0;
const kit: number[] = [];
const provider: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Which goes first alternates, so neither always runs on a machine the other just warmed.
  if (round % 2 === 0) {
    kit.push(await kitCallback());
    provider.push(await providerAlone());
  } else {
    provider.push(await providerAlone());
    kit.push(await kitCallback());
  }
}

const figures = {
  rounds: ROUNDS,
  database: databaseUrl.startsWith('postgres') ? 'postgres' : 'pglite',
  callbackMs: Number(median(kit).toFixed(1)),
  providerMs: Number(median(provider).toFixed(1)),
  kitAddsMs: Number((median(kit) - median(provider)).toFixed(1)),
  callbackWaitingForIssuerMs: Number(median(waits).toFixed(1)),
  statementsPerCallback: median(statementCounts),
  kitRequestsPerCallback: Object.fromEntries([...kitRequests].map(([path, count]) => [path, Number((count / ROUNDS).toFixed(2))])),
};
if (asJson) console.log(JSON.stringify(figures));
else {
  console.log(`OAuth callback (${figures.database}, ${ROUNDS} rounds, medians): the kit's callback ${figures.callbackMs} ms, the provider's token + userinfo ${figures.providerMs} ms; the kit adds ${figures.kitAddsMs} ms`);
  console.log(`the kit's requests to the issuer per callback: ${JSON.stringify(figures.kitRequestsPerCallback)}, waiting for their answers ${figures.callbackWaitingForIssuerMs} ms; ${figures.statementsPerCallback} database statements per callback`);
}

await new Promise<void>((resolve) => server.close(() => resolve()));
await auth.close();
await closeDatabase(db);
await issuer.close();
