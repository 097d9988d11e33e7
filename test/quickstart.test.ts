import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { openTestDatabase } from './harness/database.js';
import { startSmtpServer } from './harness/smtp.js';
import { freePort } from './harness/free-port.js';

// test/docs-examples.test.ts runs it without SMTP_URL (signed up, confirmed, signed in); here it sends real mail.
describe("the README's quickstart (examples/quickstart.ts)", () => {
  it('on PostgreSQL (DATABASE_URL) with SMTP_URL, mails the confirmation link to the address it signed up, says where it went, and exits', async () => {
    const smtp = await startSmtpServer();
    const database = await openTestDatabase('postgres', { migrated: false });
    try {
      const port = await freePort();
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], {
        timeout: 120_000,
        env: { ...process.env, PORT: String(port), SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, DATABASE_URL: database.url ?? '' },
      });
      assert.match(stdout, /The confirmation link went to ada@example\.com/);
      const mail = await smtp.waitForMail('ada@example.com');
      assert.ok(mail.body.includes(`http://localhost:${port}/confirm-email?token=lk_`), mail.body);
    } finally {
      await smtp.close();
      await database.close();
    }
  });
});
