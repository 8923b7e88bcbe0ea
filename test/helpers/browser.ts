// Debian's Chromium for the browser tests, driven by playwright-core: never a downloaded browser.
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** As root, with no network beyond loopback: without the background-networking flags Chromium's
 * own connections are refused many at a time. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** node:test's `skip` for a browser test: false, or why it cannot run here. */
export const chromiumSkip: string | false = existsSync(CHROMIUM)
  ? false
  : `needs Debian's chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;
