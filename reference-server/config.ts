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
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number of seconds, got "${raw}"`);
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

export function readConfig(env: NodeJS.ProcessEnv): ReferenceServerConfig {
  const port = integer(env, 'PORT', 3000);
  const dataDir = env.AUTH_DATA_DIR ?? './.data';
  const emailConfirmation = env.AUTH_EMAIL_CONFIRMATION ?? 'required';
  if (emailConfirmation !== 'required' && emailConfirmation !== 'optional' && emailConfirmation !== 'off') {
    throw new Error(`AUTH_EMAIL_CONFIRMATION must be required, optional or off, got "${emailConfirmation}"`);
  }
  const refreshTtl = env.AUTH_REFRESH_TTL;
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    databaseUrl: env.DATABASE_URL || `${dataDir}/pglite`,
    dataDir,
    smtpUrl: env.SMTP_URL || null,
    mailFrom: env.MAIL_FROM ?? 'no-reply@localhost',
    appUrl: env.APP_URL ?? `http://localhost:${port}`,
    accessTokenTtlSeconds: integer(env, 'AUTH_ACCESS_TTL', 300),
    refreshTokenTtlSeconds: refreshTtl === undefined || refreshTtl === '' ? null : integer(env, 'AUTH_REFRESH_TTL', 0),
    refreshGraceSeconds: integer(env, 'AUTH_REFRESH_GRACE', 10),
    emailConfirmation,
    basicClients: basicClients(env.AUTH_BASIC_CLIENTS),
  };
}
