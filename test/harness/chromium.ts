import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

/** Debian's Chromium, or the one CHROMIUM_PATH names. */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Why the browser tests skip here, or false when they run. A machine without Chromium skips them,
 * saying how to run them; CI (where `.ci/run` installs it) never does, so a missing browser fails there.
 */
export const withoutChromium: string | false =
  existsSync(CHROMIUM_PATH) || process.env.CI ? false : `no Chromium at ${CHROMIUM_PATH}: install it (apt-get install chromium) or set CHROMIUM_PATH to run the browser tests`;

/** A headless Chromium started with the flags this closed network needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
