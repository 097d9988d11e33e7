/** A mail ready to send. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/**
 * What every template gets besides its own data: the application's name (`mail.appName`) and the
 * recipient's language (`meta.locale` of the account when it is set, else `en`), so that an
 * override can speak the user's language. The defaults are in English.
 */
export interface MailContext {
  appName: string;
  locale: string;
}

/** Every kind of mail the kit sends, each a function of its typed data. Replace any in `mail.templates`. */
export interface MailTemplates {
  /** The link that confirms an address after sign-up. */
  confirmEmail(data: MailContext & { email: string; link: string; expiresInHours: number }): RenderedMail;
  /** Sent to an address that already has an account when someone signs up with it again. */
  signupAttempt(data: MailContext & { email: string }): RenderedMail;
  /**
   * A security notice after the password changed: by `changePassword` (the other sessions ended)
   * or by `resetPassword` (every session ended). `resetLink` is the page under
   * `mail.paths.resetPassword`, without a token: where the user asks for a reset link.
   */
  passwordChanged(data: MailContext & { email: string; sessionsEnded: 'others' | 'all'; resetLink: string }): RenderedMail;
  /** The link that sets a new password. */
  resetPassword(data: MailContext & { email: string; link: string; expiresInMinutes: number }): RenderedMail;
  /** The username of the account at this address. */
  forgotUsername(data: MailContext & { email: string; username: string }): RenderedMail;
  /** A link that signs in without a password. */
  magicLink(data: MailContext & { email: string; link: string; expiresInMinutes: number }): RenderedMail;
  /** To the new address of an email change: the link that makes it the account's address. */
  emailChange(data: MailContext & { email: string; link: string; expiresInHours: number }): RenderedMail;
  /** To the old address of an email change: a notice, with no link. */
  emailChangeNotice(data: MailContext & { email: string; newEmail: string }): RenderedMail;
  /** A refresh token was used twice: someone else may hold one, and the session was ended. */
  refreshTokenReused(data: MailContext & { email: string }): RenderedMail;
  /** An invitation: the link sets a password and opens the new account. */
  invite(data: MailContext & { email: string; link: string; expiresInDays: number }): RenderedMail;
  /** Sent instead of an invitation to an address that already has an account: no link, nothing to act on. */
  inviteExistingAccount(data: MailContext & { email: string }): RenderedMail;
  /** The account at this address was deleted, by its owner or an administrator. */
  accountDeleted(data: MailContext & { email: string }): RenderedMail;
  /** A provider's identity was linked to the account (`oauth.link`, or joined by a vouched address): a new way in. */
  identityLinked(data: MailContext & { email: string; provider: string }): RenderedMail;
}

export type MailKind = keyof MailTemplates;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function paragraphs(lines: string[]): string {
  return lines.map((line) => `<p style="margin:0 0 16px">${escapeHtml(line)}</p>`).join('\n');
}

/**
 * One narrow column, inline styles only (mail clients drop style sheets), readable when images
 * and styles are off.
 */
function layout(appName: string, subject: string, body: string): string {
  return [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="margin:0;padding:24px 12px;background:#f4f5f8">',
    '<div style="max-width:480px;margin:0 auto;padding:28px 24px;background:#ffffff;border-radius:8px;font:15px/1.5 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d2330">',
    `<p style="margin:0 0 8px;font-size:13px;color:#667085">${escapeHtml(appName)}</p>`,
    `<h1 style="margin:0 0 16px;font-size:19px">${escapeHtml(subject)}</h1>`,
    body,
    '</div></body></html>',
  ].join('\n');
}

function withLink(appName: string, { subject, before, link, action, after }: { subject: string; before: string[]; link: string; action: string; after: string[] }): RenderedMail {
  const href = escapeHtml(link);
  const button = `<p style="margin:24px 0"><a href="${href}" style="display:inline-block;padding:10px 18px;background:#2952cc;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600">${escapeHtml(action)}</a></p>`;
  const fallback = `<p style="margin:0 0 16px;font-size:13px;color:#667085">Or paste this address into your browser:<br><a href="${href}" style="color:#2952cc;word-break:break-all">${href}</a></p>`;
  return {
    subject,
    text: [...before, '', link, ...(after.length > 0 ? ['', ...after] : [])].join('\n'),
    html: layout(appName, subject, `${paragraphs(before)}\n${button}\n${fallback}\n${paragraphs(after)}`),
  };
}

function plain(appName: string, subject: string, lines: string[]): RenderedMail {
  return { subject, text: lines.join('\n'), html: layout(appName, subject, paragraphs(lines)) };
}

export const defaultMailTemplates: MailTemplates = {
  confirmEmail: ({ link, expiresInHours, appName }) =>
    withLink(appName, {
      subject: 'Confirm your email address',
      before: ['Open this link to confirm your email address:'],
      link,
      action: 'Confirm my address',
      after: [`The link works once, for ${expiresInHours} hours. If you did not sign up, ignore this mail.`],
    }),
  signupAttempt: ({ appName }) =>
    plain(appName, 'Someone tried to sign up with your address', [
      'Someone tried to create an account with this email address, which already has one.',
      'If it was you, sign in instead, or reset your password. If not, you can ignore this mail.',
    ]),
  passwordChanged: ({ sessionsEnded, resetLink, appName }) =>
    withLink(appName, {
      subject: 'Your password was changed',
      before: [
        sessionsEnded === 'all'
          ? 'The password of your account was just reset, and every session of it was signed out: sign in with the new password.'
          : 'The password of your account was just changed, and your other sessions were signed out.',
        sessionsEnded === 'all'
          ? 'If you did not do this, someone can read your mail: secure your mailbox, then reset your password here:'
          : 'If you did not do this, reset your password now, here:',
      ],
      link: resetLink,
      action: 'Reset my password',
      after: [],
    }),
  resetPassword: ({ link, expiresInMinutes, appName }) =>
    withLink(appName, {
      subject: 'Reset your password',
      before: ['Someone asked to reset the password of your account. Open this link to choose a new one:'],
      link,
      action: 'Choose a new password',
      after: [`The link works once, for ${expiresInMinutes} minutes. If you did not ask, ignore this mail: nothing has changed.`],
    }),
  invite: ({ link, expiresInDays, appName }) =>
    withLink(appName, {
      subject: 'You are invited',
      before: ['You have been invited to create an account. Open this link to choose your password:'],
      link,
      action: 'Accept the invitation',
      after: [`The link works once, for ${expiresInDays} days. If you did not expect this invitation, ignore this mail.`],
    }),
  inviteExistingAccount: ({ appName }) =>
    plain(appName, 'You are invited', [
      'You have been invited to create an account, but this address already has one.',
      'Sign in as usual; if you forgot your password, reset it from the sign-in page.',
    ]),
  forgotUsername: ({ username, appName }) =>
    plain(appName, 'Your username', [`The username of your account is: ${username}`, 'If you did not ask for it, you can ignore this mail.']),
  magicLink: ({ link, expiresInMinutes, appName }) =>
    withLink(appName, {
      subject: 'Your sign-in link',
      before: ['Open this link to sign in:'],
      link,
      action: 'Sign in',
      after: [`The link works once, for ${expiresInMinutes} minutes. If you did not ask for it, ignore this mail: nobody can sign in without it.`],
    }),
  emailChange: ({ link, expiresInHours, appName }) =>
    withLink(appName, {
      subject: 'Confirm your new email address',
      before: ['Open this link to make this the email address of your account:'],
      link,
      action: 'Use this address',
      after: [`The link works once, for ${expiresInHours} hours. If you did not ask for this change, ignore this mail: nothing changes without it.`],
    }),
  emailChangeNotice: ({ newEmail, appName }) =>
    plain(appName, 'Your email address is being changed', [
      `Someone signed in to your account asked to change its email address to ${newEmail}. The change happens once that address confirms it.`,
      'If this was not you, change your password now: it also ends every other session.',
    ]),
  accountDeleted: ({ appName }) =>
    plain(appName, 'Your account was deleted', [
      'The account at this email address was deleted, and every device signed in to it was signed out.',
      'If you did not expect this, contact us. You can create a new account with this address at any time.',
    ]),
  identityLinked: ({ provider, appName }) =>
    plain(appName, 'A sign-in method was added to your account', [
      `Your account can now be signed in to with ${provider}.`,
      'If this was not you, reset your password now (it ends every session) and remove it from your account.',
    ]),
  refreshTokenReused: ({ appName }) =>
    plain(appName, 'A session of yours was ended', [
      'A sign-in token of your account was used twice, which happens when someone else has a copy of it. We ended that session to be safe.',
      'If you did not just sign in on another device or restore a backup, change your password.',
    ]),
};
