// The web page in a real browser: Debian's Chromium (never a downloaded one) driven by playwright-core,
// against the API in-process, a real worker process (RetinaFace) and a private Redis. Uploads a
// photo and follows its progress to the result, downloads it and a zip, sends a text file and reads
// the worded error, keeps to a phone's width, remembers options and sends only those the mode takes,
// asks for a key when the server needs one, and must never trip the Content-Security-Policy. Writes
// the README's screenshot, docs/img/page.png.
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import type { Redis } from 'ioredis';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { startApi, type RunningApi } from '../../api/server.js';
import { createApiKey } from '../../shared/apiKeys.js';
import { redisKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { createRedis, waitReady } from '../../shared/redis.js';
import { testApiConfig } from '../helpers/api.js';
import { CHROMIUM, CHROMIUM_ARGS, chromiumSkip } from '../helpers/browser.js';
import { startService, until, type Proc } from '../helpers/cluster.js';
import { fixturesDir, repoRoot } from '../helpers/fixtures.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const skip = chromiumSkip;
if (skip) console.log(`# browser test skipped: ${skip}`);

// As the machine's own probe starts it: without the background-networking flags Chromium tries
// Google's hosts, which this closed network refuses.
/** The one fixture photo that may be shown in the repository (public domain): the screenshot's. */
const ASTRONAUT = join(fixturesDir, 'astronaut.png');
const GROUP = join(fixturesDir, 'dlib_voc_2008_001009.jpg');
const SCREENSHOT = join(repoRoot, 'docs', 'img', 'page.png');

/** Records, in the page, every CSP violation and every status line shown, from before any script runs. */
const RECORDER = () => {
  const w = window as unknown as { cspViolations: string[]; statuses: string[] };
  w.cspViolations = [];
  w.statuses = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
  );
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target instanceof Element ? r.target : r.target.parentElement;
      const status = el?.closest('.status');
      if (status?.textContent) w.statuses.push(status.textContent);
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
};

interface Watched {
  page: Page;
  /** Console errors and uncaught exceptions: there must be none. */
  problems: string[];
}

describe('the web page in Chromium', { skip, timeout: 240_000 }, () => {
  let redisServer: TestRedis;
  let redis: Redis;
  let api: RunningApi;
  let keyedApi: RunningApi;
  let strictApi: RunningApi;
  let apiKey: string;
  let worker: Proc;
  let context: BrowserContext;
  let profile: string;
  const watched: Watched[] = [];

  before(async () => {
    redisServer = await startTestRedis();
    const env = { REDIS_URL: redisServer.url, KEY_PREFIX: redisServer.prefix };
    const common = { LOG_LEVEL: 'silent', SHUTDOWN_TIMEOUT_SECONDS: '2' };
    const log = createLogger('page-test', 'silent');
    api = await startApi(testApiConfig(redisServer, common), log);
    // A second API on the same queue that needs keys: the page must ask for one.
    keyedApi = await startApi(testApiConfig(redisServer, { ...common, REQUIRE_API_KEY: 'true' }), log);
    // Small limits, on a key prefix of its own so that the other tests' submissions do not count.
    strictApi = await startApi(
      testApiConfig(redisServer, {
        ...common,
        KEY_PREFIX: `${redisServer.prefix}-strict`,
        RATE_LIMIT_PER_MINUTE: '2',
        MAX_UPLOAD_BYTES: '200000',
      }),
      log,
    );
    redis = createRedis(redisServer.url, 'client');
    await waitReady(redis, 5000);
    apiKey = (await createApiKey(redis, redisKeys(redisServer.prefix), 'page-test')).key;
    worker = startService('worker', env);
    await until(
      'a worker to register',
      async () => ((await (await fetch(`${api.url}/workers`)).json()) as { count: number }).count > 0,
      120_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${worker.output().slice(-3000)}`);
    });
    profile = mkdtempSync(join(tmpdir(), 'turdify-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 900 },
      acceptDownloads: true,
    });
    await context.addInitScript(RECORDER);
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    worker?.signal('SIGTERM');
    await worker?.exited(15_000).catch(() => worker.signal('SIGKILL'));
    await keyedApi?.close();
    await strictApi?.close();
    await api?.close();
    redis?.disconnect();
    await redisServer?.close();
  });

  async function open(url: string): Promise<Watched> {
    const page = await context.newPage();
    const w: Watched = { page, problems: [] };
    page.on('console', (m) => {
      if (m.type() === 'error') w.problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => w.problems.push(`uncaught: ${e.message}`));
    watched.push(w);
    await page.goto(url);
    await page.waitForSelector('body.ready');
    return w;
  }

  /** The last photo card once it has a result or an error. */
  async function lastCardSettled(page: Page) {
    const card = page.locator('.job').last();
    await card
      .locator('.after-figure:not([hidden]), .error:not([hidden])')
      .first()
      .waitFor({ timeout: 120_000 });
    return card;
  }

  it('uploads a photo, shows its progress, the result beside the original, and downloads it', async () => {
    const { page } = await open(`${api.url}/`);
    // The emoji previews come from GET /emojis/{name}.svg and render.
    const previews = page.locator('#emojis img');
    assert.ok((await previews.count()) >= 5);
    for (const img of await previews.all()) {
      assert.ok(await img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0));
    }

    await page.setInputFiles('#pick', ASTRONAUT);
    const card = await lastCardSettled(page);
    assert.equal(await card.locator('.error').isHidden(), true, await card.locator('.error').innerText());
    const statuses = await page.evaluate(() => (window as unknown as { statuses: string[] }).statuses);
    assert.ok(
      statuses.some((s) => /Waiting for a worker|Finding and covering faces… \d+ %/.test(s)),
      `progress was shown: ${JSON.stringify(statuses)}`,
    );
    assert.match(await card.locator('.status').innerText(), /^Done: 1 face covered\.$/);

    const after = card.locator('img.after');
    assert.ok(await after.evaluate((el: HTMLImageElement) => el.naturalWidth > 0), 'the result is rendered');
    assert.match(String(await after.getAttribute('alt')), /^Result: astronaut\.png, 1 face covered$/);
    assert.equal(await card.locator('img.before').getAttribute('alt'), 'Original: astronaut.png');

    const [download] = await Promise.all([page.waitForEvent('download'), card.locator('a.download').click()]);
    assert.equal(download.suggestedFilename(), 'astronaut.turdified.png');
    const bytes = readFileSync(await download.path());
    const meta = await sharp(bytes).metadata();
    assert.equal(meta.format, 'png');
    assert.ok(meta.width! > 0 && meta.height! > 0);

    // Only the fixture that may be published is on the page: the README's screenshot.
    // A palette PNG: a third of the size of Chromium's, and the page's flat colours look the same.
    const shot = await page.screenshot({ fullPage: true });
    await sharp(shot).png({ palette: true, effort: 10 }).toFile(SCREENSHOT);
  });

  it('downloads all results as one zip', async () => {
    const { page } = watched[0]!;
    await page.setInputFiles('#pick', GROUP);
    const card = await lastCardSettled(page);
    assert.match(await card.locator('.status').innerText(), /^Done: \d+ faces? covered\.$/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#zip')]);
    assert.equal(download.suggestedFilename(), 'turdified.zip');
    const entries = unzipSync(new Uint8Array(readFileSync(await download.path())));
    assert.deepEqual(Object.keys(entries).sort(), [
      'astronaut.turdified.png',
      'dlib_voc_2008_001009.turdified.jpg',
    ]);
    for (const [name, data] of Object.entries(entries)) {
      assert.ok((await sharp(data).metadata()).width! > 0, `${name} is an image`);
    }
  });

  it('says in words that a text file is not an image (no JSON, no stack trace)', async () => {
    const { page } = watched[0]!;
    await page.setInputFiles('#pick', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('these are not the photos you are looking for\n'),
    });
    const card = await lastCardSettled(page);
    const error = await card.locator('.error').innerText();
    assert.match(error, /^This file is not an image the service can read\. It takes JPEG, PNG/);
    assert.doesNotMatch(error, /[{}]|problem|Error:|\bat \S+:\d+/);
    assert.equal(await card.locator('.error').getAttribute('role'), 'alert');
  });

  it('remembers the options and sends only those the mode takes', async () => {
    const { page } = watched[0]!;
    // Each mode shows its own default colour until one is picked.
    await page.locator('input[name="mode"][value="outline"]').check();
    assert.equal(await page.inputValue('#color'), '#00ff00');
    await page.locator('input[name="mode"][value="solid"]').check();
    assert.equal(await page.inputValue('#color'), '#000000');
    await page.locator('input[name="mode"][value="blur"]').check();
    assert.equal(await page.locator('[data-option="color"]').isHidden(), true, 'blur takes no colour');
    assert.equal(await page.locator('#emojis').isHidden(), true, 'blur takes no emoji');
    assert.equal(await page.locator('#shapes').isVisible(), true, 'blur takes a shape');
    await page.locator('input[name="shape"][value="box"]').check();
    await page.selectOption('#format', 'webp');

    const { page: again } = await open(`${api.url}/`);
    assert.equal(await again.locator('input[name="mode"][value="blur"]').isChecked(), true);
    assert.equal(await again.locator('input[name="shape"][value="box"]').isChecked(), true);
    assert.equal(await again.inputValue('#format'), 'webp');

    // The API refuses an option the mode does not take (400): a completed job shows none was sent.
    const [answer] = await Promise.all([
      again.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/jobs')),
      again.setInputFiles('#pick', ASTRONAUT),
    ]);
    assert.equal(answer.status(), 202);
    const { options } = (await answer.json()) as { options: Record<string, unknown> };
    assert.equal(options.mode, 'blur');
    assert.equal(options.shape, 'box');
    assert.equal(options.format, 'webp');
    const card = await lastCardSettled(again);
    assert.match(await card.locator('.status').innerText(), /^Done: 1 face covered\.$/);
    assert.match(String(await card.locator('a.download').getAttribute('download')), /\.turdified\.webp$/);
  });

  it('fits a phone screen (375 px) without scrolling sideways, and follows a dark system theme', async () => {
    const { page } = watched[0]!;
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${overflow} px wider than the screen`);
    if (process.env.PAGE_PHONE_SCREENSHOT)
      await page.screenshot({ path: process.env.PAGE_PHONE_SCREENSHOT, fullPage: true });
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(dark, light);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('is usable with the keyboard: Tab reaches the mode choices and the photo picker', async () => {
    const { page } = await open(`${api.url}/`);
    const reached = new Set<string>();
    for (let i = 0; i < 40 && !reached.has('pick'); i++) {
      await page.keyboard.press('Tab');
      reached.add(
        await page.evaluate(
          () => document.activeElement?.id || document.activeElement?.getAttribute('name') || '',
        ),
      );
    }
    assert.ok(reached.has('mode'), `focus went through ${[...reached].join(', ')}`);
    assert.ok(reached.has('pick'), `focus went through ${[...reached].join(', ')}`);
    // Every form control has a label.
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select')]
        .filter((el) => (el as HTMLInputElement).labels?.length === 0)
        .map((el) => el.id || el.getAttribute('name')),
    );
    assert.deepEqual(unlabelled, []);
  });

  it('asks for an API key when the server needs one, keeps it, and sends the photo again', async () => {
    const { page } = await open(`${keyedApi.url}/`);
    assert.equal(await page.locator('#key-form').isHidden(), true);
    await page.setInputFiles('#pick', ASTRONAUT);
    await page.locator('#key-form').waitFor({ state: 'visible' });
    assert.match(await page.locator('#key-form').innerText(), /This server needs an API key/);
    assert.match(await page.locator('.job .error').innerText(), /needs an API key/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'key-input');
    // A wrong key: said so, forgotten, asked again.
    await page.fill('#key-input', 'tdy_not-a-key');
    await page.click('#key-form button[type="submit"]');
    await page.locator('#key-form').waitFor({ state: 'visible' });
    assert.match(await page.locator('#key-why').innerText(), /was not accepted/);
    assert.equal(await page.evaluate(() => localStorage.getItem('turdify.apiKey')), null);
    await page.fill('#key-input', apiKey);
    await page.click('#key-form button[type="submit"]');
    const card = page.locator('.job').last();
    await card.locator('.after-figure:not([hidden])').waitFor({ timeout: 120_000 });
    assert.equal(await page.evaluate(() => localStorage.getItem('turdify.apiKey')), apiKey);
  });

  it('takes photos dropped on the page or pasted into it', async () => {
    const { page } = await open(`${api.url}/`);
    const photo = readFileSync(GROUP).toString('base64');
    await page.evaluate(
      ([b64, how]) => {
        const bytes = Uint8Array.from(atob(b64!), (c) => c.charCodeAt(0));
        for (const way of how!.split(',')) {
          const data = new DataTransfer();
          data.items.add(new File([bytes], `${way}.jpg`, { type: 'image/jpeg' }));
          if (way === 'dropped') {
            document
              .querySelector('#drop')!
              .dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true }));
          } else {
            document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }));
          }
        }
      },
      [photo, 'dropped,pasted'],
    );
    const cards = page.locator('.job');
    await until(
      'two results',
      async () => (await page.locator('.after-figure:not([hidden])').count()) === 2,
      120_000,
      200,
    );
    assert.deepEqual(await cards.locator('.name').allInnerTexts(), ['dropped.jpg', 'pasted.jpg']);
  });

  it('says when a photo is too large and when to come back after too many (429 with Retry-After)', async () => {
    const { page } = await open(`${strictApi.url}/`);
    await page.setInputFiles('#pick', ASTRONAUT); // 792 kB, over this server's 200 kB
    const big = await lastCardSettled(page);
    assert.equal(
      await big.locator('.error').innerText(),
      'This photo is too large to upload to this server (its file is over the size limit).',
    );
    await page.setInputFiles('#pick', [GROUP, GROUP]); // the limit is 2 a minute: the second is refused
    const limited = page.locator('.job', { hasText: 'Too many photos' });
    await limited.waitFor({ timeout: 60_000 });
    assert.match(
      await limited.locator('.error').innerText(),
      /^Too many photos in a short time: try again in \d+ seconds?\.$/,
    );
    assert.equal(await limited.locator('.retry').isVisible(), true, 'a retry button');
    assert.match(await limited.locator('.status').innerText(), /^Sending it again by itself in \d+ s\.$/);
  });

  it('words every problem the API answers, never showing its JSON', async () => {
    const { page } = watched[0]!;
    const url = '/web/api.js';
    const cases: [number, Record<string, unknown>, string | null, RegExp][] = [
      [401, { detail: 'this server needs an API key' }, null, /needs an API key/],
      [401, { detail: 'the API key is not valid (unknown or revoked)' }, null, /not accepted/],
      [413, { type: 'x/payload-too-large' }, null, /too large to upload/],
      [
        413,
        { type: 'x/too-many-pixels', width: 10000, height: 8000, max_pixels: 50000000 },
        null,
        /10000 × 8000 pixels is more than the 50 megapixels/,
      ],
      [
        415,
        { type: 'x/unsupported-media-type', accepted_formats: ['jpeg', 'png'] },
        null,
        /not an image the service can read\. It takes JPEG, PNG\./,
      ],
      [422, { type: 'x/corrupt-image' }, null, /damaged/],
      [429, { type: 'x/rate-limited' }, '7', /try again in 7 seconds/],
      [503, { type: 'x/queue-full' }, '5', /queue is full right now: try again in 5 seconds/],
      [503, { type: 'x/uploads-busy' }, '1', /busy .*in 1 second\./],
      [
        400,
        { type: 'x/invalid-option', detail: 'shape: must be one of: ellipse, box' },
        null,
        /refused an option: shape: must be/,
      ],
      [500, { type: 'x/internal', detail: 'an unexpected error occurred' }, null, /had a problem/],
      [502, {}, null, /had a problem/],
    ];
    for (const [status, problem, retryAfter, expected] of cases) {
      const message = await page.evaluate(
        async ([u, s, p, r]) => (await import(u as string)).wordProblem(s, p, r).message as string,
        [url, status, problem, retryAfter] as const,
      );
      assert.match(message, expected, `${status} ${JSON.stringify(problem)}`);
      assert.doesNotMatch(message, /[{}]/);
    }
  });

  it('would see a CSP violation: an inline script and an inline style are reported', async () => {
    // The control for the next test: the recorder does catch what the policy blocks.
    const page = await context.newPage();
    await page.goto(`${api.url}/`);
    await page.waitForSelector('body.ready');
    await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'document.title = "inline ran"';
      document.body.append(script);
      document.body.insertAdjacentHTML('beforeend', '<p style="color: red">inline style</p>');
    });
    await until(
      'two violations',
      async () =>
        (await page.evaluate(
          () => (window as unknown as { cspViolations: string[] }).cspViolations.length,
        )) >= 2,
      5000,
    );
    assert.notEqual(await page.title(), 'inline ran');
    await page.close();
  });

  it('tripped no Content-Security-Policy rule and logged no error on any page', async () => {
    for (const { page, problems } of watched) {
      const violations = await page.evaluate(
        () => (window as unknown as { cspViolations: string[] }).cspViolations,
      );
      assert.deepEqual(violations, [], page.url());
      // Chromium logs each error answer; these (text file, no key, too large, too many) are the tests' own.
      const unexpected = problems.filter(
        (p) => !/Failed to load resource: .* status of (401|413|415|429)\b/.test(p),
      );
      assert.deepEqual(unexpected, [], page.url());
    }
  });
});
