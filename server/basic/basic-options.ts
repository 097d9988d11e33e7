import { z } from 'zod';
import { readStoredSecret } from './client-secrets.js';

/** How much a refused Basic request tells the caller. */
export type BasicErrorVerbosity = 'debug' | 'normal' | 'minimal';

/** Looks a client's stored secret up at run time: a hash (or, discouraged, the secret itself), or null. */
export type FindClientSecret = (realm: string, clientId: string) => string | null | undefined | Promise<string | null | undefined>;

export interface BasicOptions {
  /**
   * `{ realm: { clientId: secret } }`. Each secret is an argon2id PHC string (`$argon2id$…`, for
   * secrets a person chose), `sha256:<base64url digest>` (for generated, high-entropy secrets), or
   * the secret in clear, which works but is warned about at start. `npx trpc-auth-kit hash-secret`
   * prints the first two forms.
   */
  clients?: Record<string, Record<string, string>>;
  /**
   * Finds a client's secret at run time; what it returns takes precedence over `clients`, and
   * null or undefined falls back to them.
   */
  findClientSecret?: FindClientSecret;
  /**
   * `debug`: the reason in the body (never in production); `normal`: the challenge and a generic
   * `INVALID_CREDENTIALS`; `minimal`: a bare 401, no challenge. @default 'normal'
   */
  errorVerbosity?: BasicErrorVerbosity;
  /**
   * Failed attempts per client id and client address (IPv4, or IPv6 /64) per `rateLimits.windowSeconds`;
   * beyond it `RATE_LIMITED` with Retry-After, without checking the secret. @default 10
   */
  failuresPerClientAndSource?: number;
}

/** A realm name goes into a quoted string of the challenge: printable ASCII, no quote or backslash. */
export const REALM_NAME = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
/** A client id: no colon (the separator) and no control characters. */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
export const CLIENT_ID = /^[^:\x00-\x1f\x7f]{1,256}$/;

export const basicOptionsSchema = z
  .strictObject({
    clients: z
      .record(
        z.string().regex(REALM_NAME, 'a realm name: 1-64 printable ASCII characters, no " or \\'),
        z.record(z.string().regex(CLIENT_ID, 'a client id: 1-256 characters, no ":" and no control characters'), z.string().min(1).max(1024)),
      )
      // Checked here, with the other options, so a broken secret stops createAuth before it starts anything.
      .superRefine((realms, context) => {
        for (const [realm, clients] of Object.entries(realms)) {
          for (const [clientId, stored] of Object.entries(clients)) {
            const secret = readStoredSecret(stored);
            if ('error' in secret) context.addIssue({ code: 'custom', path: [realm, clientId], message: secret.error });
          }
        }
      })
      .default({}),
    findClientSecret: z.custom<FindClientSecret>((value) => typeof value === 'function', 'expected a function').optional(),
    errorVerbosity: z.enum(['debug', 'normal', 'minimal']).default('normal'),
    failuresPerClientAndSource: z.number().int().min(1).default(10),
  })
  .prefault({});
