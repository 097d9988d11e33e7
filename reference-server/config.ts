import type { OAuthProviderOptions } from '../server/index.js';
import type { ClientSecrets } from '../server/basic/basic-options.js';

/** The reference server's settings, read from the environment (see the README's table). */
export interface ReferenceServerConfig {
  port: number;
  host: string;
  databaseUrl: string;
  dataDir: string;
  smtpUrl: string | null;
  mailFrom: string;
  appUrl: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number | null;
  refreshGraceSeconds: number;
  emailConfirmation: 'required' | 'optional' | 'off';
  /** `{ realm: { clientId: secret or [current, next] } }` from AUTH_BASIC_CLIENTS; the `admin` realm may invite. */
  basicClients: Record<string, Record<string, ClientSecrets>>;
  /** OAuth providers by name from AUTH_OAUTH; `createAuth` checks each in full. */
  oauthProviders: Record<string, OAuthProviderOptions>;
  /** AUTH_ANONYMOUS=on: `signInAnonymously` answers. */
  anonymous: boolean;
  /** METRICS_TOKEN: the bearer token `GET /metrics` wants (null: this machine only, undeployed). */
  metricsToken: string | null;
}

function integer(env: NodeJS.ProcessEnv, name: string, expected: { fallback: number; unit?: 'seconds' }): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return expected.fallback;
  const value = Number(raw);
  const what = expected.unit ? `a whole number of ${expected.unit}` : 'a whole number';
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be ${what}, got "${raw}"`);
  return value;
}

/** A secret, or the two of a rotation. */
function isClientSecrets(value: unknown): value is ClientSecrets {
  if (typeof value === 'string') return true;
  return Array.isArray(value) && value.length >= 1 && value.length <= 2 && value.every((secret) => typeof secret === 'string');
}

function basicClients(raw: string | undefined): Record<string, Record<string, ClientSecrets>> {
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('AUTH_BASIC_CLIENTS must be JSON: { "<realm>": { "<client_id>": "<hashed or cleartext secret>" } }');
  }
  const isTable = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value);
  const valid = isTable(parsed) && Object.values(parsed as object).every((clients) => isTable(clients) && Object.values(clients as object).every(isClientSecrets));
  if (!valid) throw new Error('AUTH_BASIC_CLIENTS must map each realm to an object of client ids and secrets (a string, or two in a list during a rotation)');
  return parsed as Record<string, Record<string, ClientSecrets>>;
}

function oauthProviders(raw: string | undefined): Record<string, OAuthProviderOptions> {
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('AUTH_OAUTH must be JSON: { "<name>": { "preset"?: "google" | "github" | "gitlab" | "bitbucket" | "facebook", "issuer"?: "<url>", "clientId": "…", "clientSecret": "…", "endpoints"?: { … } } }');
  }
  const isTable = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isTable(parsed) || !Object.values(parsed as object).every(isTable)) throw new Error('AUTH_OAUTH must map each provider name to an object');
  // The shape of each provider is createAuth's to check: it names the option that is wrong.
  return parsed as Record<string, OAuthProviderOptions>;
}

export function readConfig(env: NodeJS.ProcessEnv): ReferenceServerConfig {
  const port = integer(env, 'PORT', { fallback: 3000 });
  const dataDir = env.AUTH_DATA_DIR ?? './.data';
  const emailConfirmation = env.AUTH_EMAIL_CONFIRMATION ?? 'required';
  if (emailConfirmation !== 'required' && emailConfirmation !== 'optional' && emailConfirmation !== 'off') {
    throw new Error(`AUTH_EMAIL_CONFIRMATION must be required, optional or off, got "${emailConfirmation}"`);
  }
  const anonymous = env.AUTH_ANONYMOUS ?? '';
  if (anonymous !== '' && anonymous !== 'on' && anonymous !== 'off') throw new Error(`AUTH_ANONYMOUS must be on or off, got "${anonymous}"`);
  const refreshTtl = env.AUTH_REFRESH_TTL;
  const host = env.HOST ?? '127.0.0.1';
  // Mailed links lead where the server says it listens (an address for every interface names this machine).
  const linkHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    port,
    host,
    databaseUrl: env.DATABASE_URL || `${dataDir}/pglite`,
    dataDir,
    smtpUrl: env.SMTP_URL || null,
    mailFrom: env.MAIL_FROM ?? 'no-reply@localhost',
    appUrl: env.APP_URL || `http://${linkHost}:${port}`,
    accessTokenTtlSeconds: integer(env, 'AUTH_ACCESS_TTL', { fallback: 300, unit: 'seconds' }),
    refreshTokenTtlSeconds: refreshTtl === undefined || refreshTtl === '' ? null : integer(env, 'AUTH_REFRESH_TTL', { fallback: 0, unit: 'seconds' }),
    refreshGraceSeconds: integer(env, 'AUTH_REFRESH_GRACE', { fallback: 10, unit: 'seconds' }),
    emailConfirmation,
    basicClients: basicClients(env.AUTH_BASIC_CLIENTS),
    oauthProviders: oauthProviders(env.AUTH_OAUTH),
    anonymous: anonymous === 'on',
    metricsToken: env.METRICS_TOKEN || null,
  };
}
