// /docs and /admin/queues in a real browser: Debian's chromium driven by playwright-core (never a
// downloaded browser). Each page renders under the API's CSP, with no request leaving the server
// and no CSP violation but the one expected (bull-board's Google Fonts link, refused by design).
// Writes the README's screenshot of /docs: docs/img/docs-page.png.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startApi, type RunningApi } from '../../api/server.js';
import { createLogger } from '../../shared/logger.js';
import { testApiConfig } from '../helpers/api.js';
import { CHROMIUM, CHROMIUM_ARGS, chromiumSkip } from '../helpers/browser.js';
import { repoRoot } from '../helpers/fixtures.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const TOKEN = 'admin-token-for-the-browser-test';
const skip = chromiumSkip;

let redisServer: TestRedis;
let api: RunningApi;
let browser: Browser;

before(async () => {
  if (skip) return;
  redisServer = await startTestRedis();
  const config = testApiConfig(redisServer, {
    ADMIN_TOKEN: TOKEN,
  });
  api = await startApi(config, createLogger('docs-page-test', 'silent'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await api?.close();
  await redisServer?.close();
});

/** A page that records every request off the API's origin (and aborts it) and every console error. */
async function watchedPage(options: Parameters<Browser['newPage']>[0] = {}) {
  const page = await browser.newPage(options);
  const origin = new URL(api.url).origin;
  const offsite: string[] = [];
  const errors: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, offsite, errors };
}

const visible = (page: Page, text: string) =>
  page.getByText(text, { exact: false }).first().waitFor({ timeout: 30_000 });

test('/docs renders the API from this server alone', { skip }, async () => {
  const { page, offsite, errors } = await watchedPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${api.url}/docs`);
  await visible(page, 'Submit a photo: a job that covers its faces');
  await visible(page, '/jobs/{id}/events');
  // An operation opens, with its parameters and examples; the screenshot shows it open.
  await page.locator('#operations-jobs-getJob').click();
  await visible(page, 'Long poll');
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: join(repoRoot, 'docs', 'img', 'docs-page.png') });
  assert.deepEqual(offsite, [], 'requests left the server');
  assert.deepEqual(errors, [], 'console errors (a CSP violation?)');
  await page.close();
});

test('/admin/queues renders behind the token, from this server alone', { skip }, async () => {
  const { page, offsite, errors } = await watchedPage({
    httpCredentials: { username: 'operator', password: TOKEN },
    viewport: { width: 1280, height: 800 },
  });
  const r = await page.goto(`${api.url}/admin/queues`);
  assert.equal(r?.status(), 200);
  await visible(page, 'Turdify queues');
  await visible(page, 'webhooks');
  assert.deepEqual(offsite, [], 'requests left the server');
  // The one expected refusal: bull-board's page links Google Fonts; the CSP refuses it unfetched.
  const unexpected = errors.filter((e) => !/fonts\.googleapis\.com/.test(e));
  assert.deepEqual(unexpected, [], 'console errors');
  await page.close();
});
