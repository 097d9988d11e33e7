import { z } from 'zod';
import type { MailTransport } from './mailer.js';
import type { MailTemplates } from './templates.js';
import { defaultMailTemplates } from './templates.js';

// A path under appUrl: one leading slash (`//host` would leave appUrl's origin).
const linkPath = z.string().regex(/^\/(?!\/)[^\s]*$/, 'a path under appUrl, starting with a single /');

const TEMPLATE_KINDS = Object.keys(defaultMailTemplates);

export const deliveryOptionsSchema = z.strictObject({
  /** Tries per mail, the first included. @default 6 (the last about 5.7 minutes after the first) */
  attempts: z.number().int().min(1).max(20).default(6),
  /** The wait before the second try; each later wait is four times longer. @default 1000 */
  firstRetryDelayMs: z.number().int().min(1).max(600_000).default(1000),
  /**
   * Mails of one kind (sign-up confirmations, password resets, …) waiting or due for a retry, at
   * most; beyond it a mail of that kind is dropped and logged. The kinds are sent in turn, so a
   * flood of one cannot delay or drop another. @default 500
   */
  maxQueuedPerKind: z.number().int().min(1).default(500),
  /** Mails handed to the transport at once. @default 2 */
  concurrency: z.number().int().min(1).max(100).default(2),
  /**
   * What a procedure does after answering, behind the mail it may send (finding the account,
   * writing the link, sending), starts at a random moment up to this long after the answer, in
   * the order the requests came: on PGlite it runs on the thread that serves the next request,
   * which would otherwise take longer right after an answer for an address with an account.
   * 0 starts it at once. @default 1000
   */
  spreadMs: z.number().int().min(0).max(60_000).default(1000),
});

/** How mail leaves the queue (delivery-queue.ts). */
export type DeliveryPolicy = z.output<typeof deliveryOptionsSchema>;

export const mailOptionsSchema = z
  .strictObject({
    /** A nodemailer transporter (`nodemailer.createTransport(…)`), or anything with its `sendMail`. */
    transport: z.custom<MailTransport>(
      (transport) => typeof (transport as MailTransport | null)?.sendMail === 'function',
      'expected a nodemailer transporter (an object with sendMail)',
    ),
    /** The sender of every mail. */
    from: z.string().min(3),
    /** The origin every mailed link starts with; never taken from a request. */
    appUrl: z.url({ protocol: /^https?$/ }),
    /** Replaces the default template of any kind of mail. */
    templates: z
      .custom<Partial<MailTemplates>>(
        (templates) =>
          typeof templates === 'object' &&
          templates !== null &&
          Object.entries(templates).every(([kind, template]) => TEMPLATE_KINDS.includes(kind) && typeof template === 'function'),
        `expected templates (functions) among: ${TEMPLATE_KINDS.join(', ')}`,
      )
      .optional(),
    /** The name every mail and the Bearer challenge's realm go by. @default the host name of appUrl */
    appName: z.string().min(1).max(100).optional(),
    /**
     * How mail leaves: through a queue in memory, retried while the transport fails (an SMTP outage
     * changes no answer and, within the attempts, loses no mail).
     */
    delivery: deliveryOptionsSchema.prefault({}),
    /** Paths under `appUrl` that receive mailed links; the token travels as `?token=`. */
    paths: z
      .strictObject({
        /** @default '/confirm-email' */
        confirmEmail: linkPath.default('/confirm-email'),
        /** @default '/reset-password' */
        resetPassword: linkPath.default('/reset-password'),
        /** @default '/magic-link' */
        magicLink: linkPath.default('/magic-link'),
        /** @default '/accept-invite' */
        acceptInvite: linkPath.default('/accept-invite'),
      })
      .prefault({}),
  })
  .transform((mail) => ({ ...mail, appName: mail.appName ?? new URL(mail.appUrl).hostname }));

export type MailPolicy = z.output<typeof mailOptionsSchema>;
