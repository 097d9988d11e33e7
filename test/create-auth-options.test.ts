import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import type { AuthDatabase } from '../db/index.js';
import { createAuth, databaseClock } from '../server/index.js';
import type { AuthOptions } from '../server/index.js';

describe('createAuth checks its options', () => {
  let db: AuthDatabase;
  const transport = { sendMail: () => Promise.resolve({}) };
  const valid = (): AuthOptions => ({ db, mail: { transport, from: 'app@example.test', appUrl: 'https://app.example.test' } });

  before(async () => {
    db = await connectDatabase();
    await migrate(db);
  });
  after(async () => {
    await closeDatabase(db);
  });

  it('accepts the minimal options of the README', async () => {
    const auth = await createAuth(valid());
    await auth.close();
  });

  const cases: Array<[string, (options: AuthOptions) => unknown, RegExp]> = [
    ['a missing mail transport', (o) => ({ ...o, mail: { ...o.mail, transport: {} } }), /mail\.transport: expected a nodemailer transporter/],
    ['an appUrl that is not http(s)', (o) => ({ ...o, mail: { ...o.mail, appUrl: 'javascript:alert(1)' } }), /mail\.appUrl/],
    ['a negative access-token lifetime', (o) => ({ ...o, tokens: { accessTokenTtlSeconds: -1 } }), /tokens\.accessTokenTtlSeconds/],
    ['argon2 memory below the OWASP minimum', (o) => ({ ...o, password: { memoryCost: 4096 } }), /password\.memoryCost/],
    ['a password minimum below 8', (o) => ({ ...o, password: { minLength: 6 } }), /password\.minLength/],
    ['an unknown email-confirmation policy', (o) => ({ ...o, signup: { emailConfirmation: 'sometimes' } }), /signup\.emailConfirmation/],
    ['a misspelt option', (o) => ({ ...o, tokens: { accessTokenTTL: 60 } }), /tokens: Unrecognized key/],
    ['a misspelt top-level option', (o) => ({ ...o, sigup: {} }), /\(options\): Unrecognized key: "sigup"/],
    ['a link path that leaves appUrl', (o) => ({ ...o, mail: { ...o.mail, paths: { resetPassword: '//evil.example/r' } } }), /mail\.paths\.resetPassword/],
    ['no database', (o) => ({ ...o, db: undefined }), /db: expected the database from connectDatabase\(\)/],
    ['a cookie origin that is not a URL', (o) => ({ ...o, cookies: { allowedOrigins: ['app.example.test'] } }), /cookies\.allowedOrigins\.0/],
    ['no mail attempt at all', (o) => ({ ...o, mail: { ...o.mail, delivery: { attempts: 0 } } }), /mail\.delivery\.attempts/],
    ['a magic link that lives longer than 10 minutes', (o) => ({ ...o, magicLink: { linkTtlSeconds: 3600 } }), /magicLink\.linkTtlSeconds/],
    ['an empty app name', (o) => ({ ...o, mail: { ...o.mail, appName: '' } }), /mail\.appName/],
    ['a template for a mail the kit never sends', (o) => ({ ...o, mail: { ...o.mail, templates: { pasword_reset: () => ({}) } } }), /mail\.templates: expected templates \(functions\) among: /],
    ['a misspelt link path', (o) => ({ ...o, mail: { ...o.mail, paths: { resetPasword: '/r' } } }), /mail\.paths: Unrecognized key: "resetPasword"/],
    ['a clock without now', (o) => ({ ...o, clock: {} }), /clock: expected a clock/],
    ['anonymous sign-in turned on with a string', (o) => ({ ...o, anonymous: { enabled: 'yes' } }), /anonymous\.enabled/],
    ['a misspelt anonymous option', (o) => ({ ...o, anonymous: { enable: true } }), /anonymous: Unrecognized key: "enable"/],
    ['no anonymous sign-ins allowed per hour', (o) => ({ ...o, rateLimits: { anonymousSignInsPerIpPerHour: 0 } }), /rateLimits\.anonymousSignInsPerIpPerHour/],
    [
      'a strangers\' share of sign-in failures larger than the whole',
      (o) => ({ ...o, rateLimits: { loginFailuresPerAccount: 10, loginFailuresPerAccountFromUnknownClients: 20 } }),
      /rateLimits\.loginFailuresPerAccountFromUnknownClients: .*cannot exceed it/,
    ],
    ['more than 100 sign-in failures per account', (o) => ({ ...o, rateLimits: { loginFailuresPerAccount: 101 } }), /rateLimits\.loginFailuresPerAccount/],
    ['a refresh limit of no refresh a window', (o) => ({ ...o, refreshLimit: { maxPerWindow: 0 } }), /refreshLimit\.maxPerWindow/],
    ['a refresh window longer than a day', (o) => ({ ...o, refreshLimit: { windowSeconds: 86_401 } }), /refreshLimit\.windowSeconds/],
    [
      'a heartbeat that the staleness bound cannot cover',
      (o) => ({ ...o, revocationListener: { heartbeatIntervalMs: 2000, staleAfterMs: 1500 } }),
      /revocationListener\.staleAfterMs: staleAfterMs must be at least twice heartbeatIntervalMs/,
    ],
  ];
  for (const [what, change, message] of cases) {
    it(`refuses ${what}, naming the option`, async () => {
      await assert.rejects(createAuth(change(valid()) as AuthOptions), message);
    });
  }
});

describe('databaseClock checks its options', () => {
  it('refuses a calibration interval that is not a positive number of seconds', () => {
    for (const calibrateEverySeconds of [0, -1, Number.NaN]) assert.throws(() => databaseClock({ calibrateEverySeconds }), /calibrateEverySeconds/);
  });
});

describe('createAuth checks its database', () => {
  it('refuses a database without the kit tables, saying to migrate', async () => {
    const bare = await connectDatabase();
    try {
      const options = { db: bare, mail: { transport: { sendMail: () => Promise.resolve({}) }, from: 'a@example.test', appUrl: 'https://app.example.test' } };
      await assert.rejects(createAuth(options), /run migrate\(db\)/);
    } finally {
      await closeDatabase(bare);
    }
  });
});
