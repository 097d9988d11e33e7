import { mkdir, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { MailTransport } from '../server/index.js';
import { fromThisMachine, servesThisMachineOnly } from './this-machine.js';

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

/**
 * `GET /dev/outbox`: `{ enabled, mails }`, the mails the outbox kept for the demo page while no SMTP
 * server is set (`enabled: false` with one). They hold live link tokens for every address, so only
 * this machine may read them, and only while the server is not deployed (this-machine.ts), naming
 * this server in `Host` (a page of another site that had its name resolve here is refused).
 */
export function serveOutbox(req: IncomingMessage, res: ServerResponse, served: { outbox: { recent(): OutboxMail[] } | null; appUrl: string }): void {
  const { outbox, appUrl } = served;
  const port = req.socket.localPort;
  const hosts = new Set([`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, new URL(appUrl).host]);
  if (req.method !== 'GET' || !servesThisMachineOnly(appUrl) || !fromThisMachine(req) || !hosts.has(req.headers.host ?? '')) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  res.end(JSON.stringify({ enabled: outbox !== null, mails: outbox?.recent() ?? [] }));
}
