import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { MailTransport } from '../../server/index.js';

/** A mail as the test SMTP server received it, parsed by mailparser. */
export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** The text and the HTML part together, for assertions that either may satisfy. */
  body: string;
  /** The first kit link token in the mail, if any. */
  token: string | null;
}

/** A real SMTP server on loopback that keeps every mail it receives, and can play an outage. */
export async function startSmtpServer() {
  const received: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let down = false;
  let refused = 0;
  let delayMs = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session, callback) {
      // An outage as a mail server reports one: 421, try again later.
      if (down) {
        refused++;
        return callback(Object.assign(new Error('service not available'), { responseCode: 421 }));
      }
      callback();
    },
    onData(stream, session, callback) {
      // A slow relay answers each message only after `delayMs`.
      const answer = (error?: Error) => (delayMs > 0 ? setTimeout(() => callback(error), delayMs) : callback(error));
      simpleParser(stream).then(
        (parsed) => {
          const text = parsed.text ?? '';
          const html = typeof parsed.html === 'string' ? parsed.html : '';
          const body = `${text}\n${html}`;
          received.push({
            to: session.envelope.rcptTo.map((address) => address.address),
            subject: parsed.subject ?? '',
            text,
            html,
            body,
            token: /token=(lk_[A-Za-z0-9_-]+)/.exec(body)?.[1] ?? null,
          });
          for (const wake of waiters) wake();
          answer();
        },
        (error: Error) => answer(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  return {
    port,
    received,
    /** A nodemailer transport that delivers to this server. */
    transport: nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true }) as MailTransport,
    /** Resolves with the first mail to `to` that matches, waiting for it if need be. */
    async waitForMail(to: string, match: (mail: ReceivedMail) => boolean = () => true, timeoutMs = 5000): Promise<ReceivedMail> {
      const find = () => received.find((mail) => mail.to.includes(to) && match(mail));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const mail = find();
        if (mail) return mail;
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no mail to ${to} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, remaining);
          waiters.add(wake);
        });
      }
    },
    /** How many connections were refused while down. */
    refusedConnections: () => refused,
    /** While down, every connection is refused with 421. */
    setDown(isDown: boolean): void {
      down = isDown;
    },
    /** Makes the relay take `ms` to accept each message, as a slow or distant one does. */
    setDelayMs(ms: number): void {
      delayMs = ms;
    },
    mailsTo(to: string): ReceivedMail[] {
      return received.filter((mail) => mail.to.includes(to));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type SmtpServer = Awaited<ReturnType<typeof startSmtpServer>>;
