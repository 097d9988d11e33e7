/** A mail ready to send. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** Every kind of mail the kit sends, each a function of its typed data. Replace any in `mail.templates`. */
export interface MailTemplates {
  /** The link that confirms an address after sign-up. */
  confirmEmail(data: { email: string; link: string; expiresInHours: number }): RenderedMail;
  /** Sent to an address that already has an account when someone signs up with it again. */
  signupAttempt(data: { email: string }): RenderedMail;
  /** A security notice after the password changed. */
  passwordChanged(data: { email: string }): RenderedMail;
  /** The link that sets a new password. */
  resetPassword(data: { email: string; link: string; expiresInMinutes: number }): RenderedMail;
  /** The username of the account at this address. */
  forgotUsername(data: { email: string; username: string }): RenderedMail;
  /** An invitation: the link sets a password and opens the new account. */
  invite(data: { email: string; link: string; expiresInDays: number }): RenderedMail;
  /** Sent instead of an invitation to an address that already has an account: no link, nothing to act on. */
  inviteExistingAccount(data: { email: string }): RenderedMail;
}

export type MailKind = keyof MailTemplates;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function paragraphs(lines: string[]): string {
  return lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n');
}

function withLink({ subject, before, link, after }: { subject: string; before: string[]; link: string; after: string[] }): RenderedMail {
  return {
    subject,
    text: [...before, '', link, '', ...after].join('\n'),
    html: `${paragraphs(before)}\n<p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>\n${paragraphs(after)}`,
  };
}

function plain(subject: string, lines: string[]): RenderedMail {
  return { subject, text: lines.join('\n'), html: paragraphs(lines) };
}

export const defaultMailTemplates: MailTemplates = {
  confirmEmail: ({ link, expiresInHours }) =>
    withLink({
      subject: 'Confirm your email address',
      before: ['Open this link to confirm your email address:'],
      link,
      after: [`The link works once, for ${expiresInHours} hours. If you did not sign up, ignore this mail.`],
    }),
  signupAttempt: () =>
    plain('Someone tried to sign up with your address', [
      'Someone tried to create an account with this email address, which already has one.',
      'If it was you, sign in instead, or reset your password. If not, you can ignore this mail.',
    ]),
  passwordChanged: () =>
    plain('Your password was changed', [
      'The password of your account was just changed, and your other sessions were signed out.',
      'If you did not do this, reset your password now.',
    ]),
  resetPassword: ({ link, expiresInMinutes }) =>
    withLink({
      subject: 'Reset your password',
      before: ['Someone asked to reset the password of your account. Open this link to choose a new one:'],
      link,
      after: [`The link works once, for ${expiresInMinutes} minutes. If you did not ask, ignore this mail: nothing has changed.`],
    }),
  invite: ({ link, expiresInDays }) =>
    withLink({
      subject: 'You are invited',
      before: ['You have been invited to create an account. Open this link to choose your password:'],
      link,
      after: [`The link works once, for ${expiresInDays} days. If you did not expect this invitation, ignore this mail.`],
    }),
  inviteExistingAccount: () =>
    plain('You are invited', [
      'You have been invited to create an account, but this address already has one.',
      'Sign in as usual; if you forgot your password, reset it from the sign-in page.',
    ]),
  forgotUsername: ({ username }) =>
    plain('Your username', [`The username of your account is: ${username}`, 'If you did not ask for it, you can ignore this mail.']),
};
