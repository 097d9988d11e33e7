import type { Logger } from '../deps.js';
import type { MailKind, MailTemplates } from './templates.js';
import { defaultMailTemplates } from './templates.js';

export type { MailKind, MailTemplates, RenderedMail } from './templates.js';

/** The part of a nodemailer transporter the kit uses. */
export interface MailTransport {
  sendMail(message: { from: string; to: string; subject: string; text: string; html: string }): Promise<unknown>;
}

export interface Mailer {
  /**
   * Queues a mail and returns at once: a procedure answers in the same time whether or not a mail
   * went out, so its timing does not tell which addresses have accounts. A failed send is logged.
   */
  send<K extends MailKind>(kind: K, to: string, data: Parameters<MailTemplates[K]>[0]): void;
  /** Waits for every queued mail to be handed to the transport. */
  flush(): Promise<void>;
}

export function createMailer(deps: {
  transport: MailTransport;
  from: string;
  templates?: Partial<MailTemplates>;
  logger: Logger;
}): Mailer {
  const templates: MailTemplates = { ...defaultMailTemplates, ...deps.templates };
  const pending = new Set<Promise<void>>();

  return {
    send(kind, to, data) {
      const render = templates[kind] as (data: Parameters<MailTemplates[typeof kind]>[0]) => ReturnType<MailTemplates[MailKind]>;
      const delivery = Promise.resolve()
        .then(() => deps.transport.sendMail({ from: deps.from, to, ...render(data) }))
        .then(
          () => undefined,
          (error: unknown) => deps.logger.error('mail not sent', { kind, error: String(error) }),
        )
        .finally(() => pending.delete(delivery));
      pending.add(delivery);
    },
    async flush() {
      await Promise.all(pending);
    },
  };
}

/** A link to `path` under `appUrl` (its path kept), carrying `token` as its query parameter. */
export function buildLink(appUrl: string, path: string, token: string): string {
  const base = appUrl.endsWith('/') ? appUrl : `${appUrl}/`;
  const url = new URL(path.replace(/^\//, ''), base);
  url.searchParams.set('token', token);
  return url.toString();
}
