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
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number of seconds, got "${raw}"`);
  return value;
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
  };
}
