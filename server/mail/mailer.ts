import type { Logger } from '../deps.js';
import { createDeliveryQueue } from './delivery-queue.js';
import type { DeliveryStats, QueuePolicy } from './delivery-queue.js';
import type { MailContext, MailKind, MailTemplates, RenderedMail } from './templates.js';
import { defaultMailTemplates } from './templates.js';

export type { MailContext, MailKind, MailTemplates, RenderedMail } from './templates.js';

/** The part of a nodemailer transporter the kit uses. */
export interface MailTransport {
  sendMail(message: { from: string; to: string; subject: string; text: string; html: string }): Promise<unknown>;
}

/** A template's data as a caller gives it: the mailer adds `appName`, and `locale` unless given. */
export type MailData<K extends MailKind> = Omit<Parameters<MailTemplates[K]>[0], keyof MailContext> & { locale?: string | undefined };

export interface Mailer {
  /**
   * Queues a mail and returns at once: a procedure answers in the same time whether or not a mail
   * went out, so its timing does not tell which addresses have accounts. See delivery-queue.ts.
   */
  send<K extends MailKind>(kind: K, to: string, data: MailData<K>): void;
  /**
   * Renders a mail as `send` does and sends nothing: a procedure that finds no one to mail does this
   * instead, so that finding no one costs what mailing does.
   */
  rehearse<K extends MailKind>(kind: K, data: MailData<K>): void;
  /** Resolves once every queued mail was delivered or given up on. */
  flush(): Promise<void>;
  /** Stops retrying and waits for the sends in flight. */
  close(): Promise<void>;
  /** The delivery queue's figures, for metrics. */
  stats(): DeliveryStats;
}

export function createMailer(deps: {
  transport: MailTransport;
  from: string;
  templates?: Partial<MailTemplates>;
  appName: string;
  delivery: QueuePolicy;
  logger: Logger;
}): Mailer {
  const templates: MailTemplates = { ...defaultMailTemplates, ...deps.templates };
  const queue = createDeliveryQueue(deps.delivery, deps.logger);

  function render<K extends MailKind>(kind: K, data: MailData<K>): RenderedMail {
    const template = templates[kind] as (data: Parameters<MailTemplates[K]>[0]) => RenderedMail;
    return template({ ...data, appName: deps.appName, locale: data.locale ?? 'en' });
  }

  return {
    send(kind, to, data) {
      // Rendered once: every retry sends the very same message.
      let message: RenderedMail;
      try {
        message = render(kind, data);
      } catch (error) {
        deps.logger.error('mail not sent: its template failed', { mail: kind, error: String(error) });
        return;
      }
      queue.push(kind, () => deps.transport.sendMail({ from: deps.from, to, ...message }));
    },
    rehearse(kind, data) {
      try {
        render(kind, data);
      } catch {
        // Nothing was to be sent; a template that fails is reported when it fails a real mail.
      }
    },
    flush: () => queue.flush(),
    close: () => queue.close(),
    stats: () => queue.stats(),
  };
}

/** A link to `path` under `appUrl` (its path kept), carrying `token` as its query parameter. */
export function buildLink(appUrl: string, path: string, token: string): string {
  const base = appUrl.endsWith('/') ? appUrl : `${appUrl}/`;
  const url = new URL(path.replace(/^\//, ''), base);
  url.searchParams.set('token', token);
  return url.toString();
}
