import { z } from 'zod';
import { readClientSecrets } from './client-secrets.js';
import type { StoredSecret } from './client-secrets.js';

/**
 * A client's stored secret, or, while it rotates, two: the current one and the next, both accepted
 * until the old one is taken out.
 */
export type ClientSecrets = string | readonly [string] | readonly [string, string];

/** Looks a client's stored secret(s) up at run time: a hash (or, discouraged, the secret itself), two during a rotation, or null. */
export type FindClientSecret = (realm: string, clientId: string) => ClientSecrets | null | undefined | Promise<ClientSecrets | null | undefined>;

/** A realm name goes into a quoted string of the challenge: printable ASCII, no quote or backslash. */
export const REALM_NAME = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
/** A client id: no colon (the separator) and no control characters. */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
export const CLIENT_ID = /^[^:\x00-\x1f\x7f]{1,256}$/;

const storedSecretSchema = z.string().min(1).max(1024);
const clientSecretsSchema = z.union([storedSecretSchema, z.tuple([storedSecretSchema]).readonly(), z.tuple([storedSecretSchema, storedSecretSchema]).readonly()]);

export const basicOptionsSchema = z
  .strictObject({
    /**
     * `{ realm: { clientId: secret } }`, or `[current, next]` for a client whose secret is being
     * rotated (both work; take the old one out when every caller has the new one). Each secret is an
     * argon2id PHC string (`$argon2id$…`, for secrets a person chose), `sha256:<base64url digest>` (for
     * generated, high-entropy secrets), or the secret in clear, which works but is warned about at
     * start. `npx trpc-auth-kit hash-secret` prints the first two forms (`--rotate` the pair).
     */
    clients: z
      .record(
        z.string().regex(REALM_NAME, 'a realm name: 1-64 printable ASCII characters, no " or \\'),
        z.record(z.string().regex(CLIENT_ID, 'a client id: 1-256 characters, no ":" and no control characters'), clientSecretsSchema),
      )
      // Read here, once, with the other options: a broken secret stops createAuth before it starts
      // anything, and the Basic check gets every secret already read.
      .transform((realms, context) => {
        const read: Record<string, Record<string, StoredSecret[]>> = {};
        for (const [realm, clients] of Object.entries(realms)) {
          read[realm] = {};
          for (const [clientId, stored] of Object.entries(clients)) {
            const secrets = readClientSecrets(stored);
            if ('error' in secrets) context.addIssue({ code: 'custom', path: [realm, clientId], message: secrets.error });
            else read[realm][clientId] = secrets;
          }
        }
        return read;
      })
      .default({}),
    /**
     * Finds a client's secret at run time; what it returns takes precedence over `clients`, and
     * null or undefined falls back to them.
     */
    findClientSecret: z.custom<FindClientSecret>((value) => typeof value === 'function', 'expected a function').optional(),
    /**
     * `debug`: the reason in the body (never in production); `normal`: the challenge and a generic
     * `INVALID_CREDENTIALS`; `minimal`: a bare 401, no challenge. @default 'normal'
     */
    errorVerbosity: z.enum(['debug', 'normal', 'minimal']).default('normal'),
    /**
     * Failed attempts per client id and client address (IPv4, or IPv6 /64) per `rateLimits.windowSeconds`;
     * beyond it `RATE_LIMITED` with Retry-After, without checking the secret. @default 10
     */
    failuresPerClientAndSource: z.number().int().min(1).default(10),
  })
  .prefault({});

/** HTTP Basic machine clients, per realm: what `createAuth`'s `basic` option takes. */
export type BasicOptions = z.input<typeof basicOptionsSchema>;

/** How much a refused Basic request tells the caller. */
export type BasicErrorVerbosity = z.output<typeof basicOptionsSchema>['errorVerbosity'];
