// The web page's routes, without a browser (test/browser/page.test.ts drives the page itself): GET /
// and its files under /web/ with the CSP every answer carries, the zip library from node_modules,
// GET /emojis/{name}.svg for catalogue names only, and 404/405 problems around them.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startApi, type RunningApi } from '../../api/server.js';
import { EMOJIS } from '../../shared/emojis.js';
import { createLogger } from '../../shared/logger.js';
import { testApiConfig } from '../helpers/api.js';
import { repoRoot } from '../helpers/fixtures.js';
import { assertProblem } from '../helpers/problem.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const webDir = join(repoRoot, 'assets', 'web');
let redisServer: TestRedis;
let api: RunningApi;

before(async () => {
  redisServer = await startTestRedis();
  const config = testApiConfig(redisServer, {
    SHUTDOWN_TIMEOUT_SECONDS: '2',
    // The page is public even where job routes need a key.
    REQUIRE_API_KEY: 'true',
  });
  api = await startApi(config, createLogger('page-test', 'silent'));
});
after(async () => {
  await api.close();
  await redisServer.close();
});

describe('the page and its files', () => {
  it('GET / answers the page as HTML with the CSP, without a key', async () => {
    const res = await request(api.url).get('/');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
    assert.match(String(res.headers['content-security-policy']), /script-src-attr 'none'/);
    assert.equal(res.text, readFileSync(join(webDir, 'index.html'), 'utf8'));
  });

  it('the page has no inline script or style and loads nothing from another origin', () => {
    for (const file of readdirSync(webDir)) {
      const text = readFileSync(join(webDir, file), 'utf8');
      assert.doesNotMatch(text, /https?:\/\/(?!www\.w3\.org)/, `${file} names a network address`);
      if (!file.endsWith('.html')) continue;
      assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/, `${file}: inline <script>`);
      assert.doesNotMatch(text, /<style|\sstyle=|\son[a-z]+=/, `${file}: inline style or handler`);
    }
  });

  it('serves every file under /web/ with its type, and 404 problem+json for one that is not there', async () => {
    const types: Record<string, RegExp> = { js: /^text\/javascript/, css: /^text\/css/, html: /^text\/html/ };
    for (const file of readdirSync(webDir)) {
      const res = await request(api.url).get(`/web/${file}`);
      assert.equal(res.status, 200, file);
      assert.match(String(res.headers['content-type']), types[file.split('.').pop()!]!, file);
    }
    assertProblem(await request(api.url).get('/web/nothing-here.js'), 404, 'not-found');
    assertProblem(await request(api.url).get('/web/../package.json'), 404, 'not-found');
    assertProblem(await request(api.url).get('/web/%2e%2e/package.json'), 404, 'not-found');
    assertProblem(await request(api.url).get('/web/'), 404, 'not-found');
  });

  it('serves fflate (zipSync) as an ES module from node_modules', async () => {
    const res = await request(api.url).get('/web/vendor/fflate.js');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/javascript/);
    assert.match(res.text, /export function zipSync/);
  });

  it('POST / and POST /web/app.js are 405 with Allow: GET, HEAD', async () => {
    for (const path of ['/', '/web/app.js', '/emojis/poop.svg']) {
      const res = await request(api.url).post(path);
      assertProblem(res, 405, 'method-not-allowed');
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
  });
});

describe('GET /emojis/{name}.svg', () => {
  it('answers the art of every emoji in the catalogue as SVG', async () => {
    for (const { name } of EMOJIS) {
      const res = await request(api.url).get(`/emojis/${name}.svg`).buffer(true);
      assert.equal(res.status, 200, name);
      assert.match(String(res.headers['content-type']), /^image\/svg\+xml/);
      assert.deepEqual(
        Buffer.from(res.body as Buffer),
        readFileSync(join(repoRoot, 'assets', 'emoji', `${name}.svg`)),
      );
    }
  });

  it('404 problem+json for a name not in the catalogue, however it is spelled', async () => {
    for (const path of [
      '/emojis/nope.svg',
      '/emojis/..%2Fpackage.svg',
      '/emojis/POOP.svg',
      '/emojis/poop.png',
    ]) {
      assertProblem(await request(api.url).get(path), 404, 'not-found');
    }
  });
});
