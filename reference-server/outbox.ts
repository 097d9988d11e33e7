import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MailTransport } from '../server/index.js';

/**
 * A mail transport for development: each mail becomes a file under `dir`, and every link in it is
 * printed, so a developer can click through sign-up without a mail server.
 */
export function createOutboxTransport(dir: string, log: (line: string) => void): MailTransport {
  let sequence = 0;
  return {
    async sendMail(message) {
      await mkdir(dir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${++sequence}.txt`;
      const file = join(dir, name);
      await writeFile(file, `From: ${message.from}\nTo: ${message.to}\nSubject: ${message.subject}\n\n${message.text}\n`);
      const links = message.text.match(/https?:\/\/\S+/g) ?? [];
      log(`mail to ${message.to}: "${message.subject}" -> ${file}${links.map((link) => `\n  ${link}`).join('')}`);
      return { file };
    },
  };
}
