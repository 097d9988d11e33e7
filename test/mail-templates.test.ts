import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { defaultMailTemplates } from '../server/mail/templates.js';
import type { MailTemplates, RenderedMail } from '../server/mail/templates.js';
import { registerConfirmed } from './harness/flows.js';
import { describeOnEachDatabase } from './harness/test-kit.js';
import { launchChromium, withoutChromium } from './harness/chromium.js';

/*
 * Every default mail: a subject, a text part and an HTML part that say the same, links escaped, and
 * (in Chromium) a screenshot under test-results/mails/ for a person to look at. Then an override.
 */

const LINK = 'https://app.example.test/confirm-email?token=lk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&x=<b>';
const CONTEXT = { appName: 'Example <App>', locale: 'en' };
const SAMPLES: { [K in keyof MailTemplates]: Omit<Parameters<MailTemplates[K]>[0], 'appName' | 'locale'> } = {
  confirmEmail: { email: 'ada@example.test', link: LINK, expiresInHours: 24 },
  signupAttempt: { email: 'ada@example.test' },
  passwordChanged: { email: 'ada@example.test', sessionsEnded: 'all', resetLink: 'https://app.example.test/reset-password' },
  resetPassword: { email: 'ada@example.test', link: LINK, expiresInMinutes: 60 },
  forgotUsername: { email: 'ada@example.test', username: 'ada<script>' },
  magicLink: { email: 'ada@example.test', link: LINK, expiresInMinutes: 10 },
  emailChange: { email: 'new@example.test', link: LINK, expiresInHours: 24 },
  emailChangeNotice: { email: 'ada@example.test', newEmail: 'new@example.test' },
  refreshTokenReused: { email: 'ada@example.test' },
  invite: { email: 'ada@example.test', link: LINK, expiresInDays: 7 },
  inviteExistingAccount: { email: 'ada@example.test' },
  accountDeleted: { email: 'ada@example.test' },
  identityLinked: { email: 'ada@example.test', provider: 'github' },
};

describe('the default mail templates', { skip: withoutChromium }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
    await mkdir('test-results/mails', { recursive: true });
  });
  after(() => browser?.close());

  for (const kind of Object.keys(SAMPLES) as Array<keyof MailTemplates>) {
    it(`${kind}: text and HTML parts, escaped, readable in a browser`, async () => {
      const templates = defaultMailTemplates as unknown as Record<string, (data: unknown) => RenderedMail>;
      const mail = templates[kind]?.({ ...SAMPLES[kind], ...CONTEXT }) as RenderedMail;
      assert.ok(mail.subject.length > 0 && mail.subject.length < 80);
      assert.ok(!mail.html.includes('<script>') && !mail.html.includes('<b>'), 'data is escaped in HTML');
      const hasLink = 'link' in SAMPLES[kind];
      assert.equal(mail.text.includes(LINK), hasLink);
      const page = await browser.newPage({ viewport: { width: 640, height: 480 } });
      await page.setContent(mail.html);
      const shown = await page.locator('body').innerText();
      assert.ok(shown.includes(mail.subject));
      assert.ok(shown.includes(CONTEXT.appName));
      if (hasLink) assert.equal(await page.locator('a').first().getAttribute('href'), LINK);
      await page.screenshot({ path: `test-results/mails/${kind}.png`, fullPage: true });
      await page.close();
    });
  }
});

describeOnEachDatabase('a template override', (kit) => {
  it("replaces the default for its kind only, and gets the app's name and the user's language", async () => {
    const app = await kit().variant({
      mail: {
        appName: 'Exemple',
        templates: {
          resetPassword: ({ link, locale, appName }) =>
            locale === 'fr'
              ? { subject: `${appName} : nouveau mot de passe`, text: `Lien : ${link}`, html: `<p>Lien : <a href="${link}">ici</a></p>` }
              : { subject: `${appName}: new password`, text: `Link: ${link}`, html: `<p><a href="${link}">here</a></p>` },
        },
      },
    });
    const { email, tokens } = await registerConfirmed(kit(), app);
    await app.client(tokens.accessToken).auth.updateUser.mutate({ meta: { locale: 'fr' } });
    await app.client().auth.forgotPassword.mutate({ email });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Exemple : nouveau mot de passe');
    assert.ok(mail.text.startsWith('Lien : https://app.example.test/reset-password?token=lk_'));
    // The other kinds keep their defaults.
    assert.equal(kit().smtp.mailsTo(email).filter((received) => received.subject === 'Confirm your email address').length, 1);
  });
});
