import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MailTransport } from '../server/index.js';

/** A mail the outbox kept, as the demo page lists it. */
export interface OutboxMail {
  to: string;
  subject: string;
  text: string;
  /** Every link in the mail, in order. */
  links: string[];
  sentAt: string;
}

/** The newest mails kept in memory for the page: enough for a session of clicking around. */
const KEPT_IN_MEMORY = 50;

/**
 * A mail transport for development: each mail becomes a file under `dir`, and every link in it is
 * printed, so a developer can click through sign-up without a mail server. The newest mails are
 * also kept for the demo page's outbox (`recent()`, newest first).
 */
export function createOutboxTransport(dir: string, log: (line: string) => void): MailTransport & { recent(): OutboxMail[] } {
  let sequence = 0;
  const kept: OutboxMail[] = [];
  return {
    async sendMail(message) {
      await mkdir(dir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${++sequence}.txt`;
      const file = join(dir, name);
      await writeFile(file, `From: ${message.from}\nTo: ${message.to}\nSubject: ${message.subject}\n\n${message.text}\n`);
      const links = message.text.match(/https?:\/\/\S+/g) ?? [];
      kept.unshift({ to: message.to, subject: message.subject, text: message.text, links, sentAt: new Date().toISOString() });
      kept.length = Math.min(kept.length, KEPT_IN_MEMORY);
      log(`mail to ${message.to}: "${message.subject}" -> ${file}${links.map((link) => `\n  ${link}`).join('')}`);
      return { file };
    },
    recent: () => [...kept],
  };
}
