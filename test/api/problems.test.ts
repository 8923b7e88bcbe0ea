// Problem types: every slug the code can emit is in the catalogue, and every `type` URI resolves to
// a page (HTML for people, JSON on request) served by the API itself.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { JOB_FAILURE_SLUGS, PROBLEM_SLUGS, PROBLEM_TYPES } from '../../api/problemTypes.js';
import { readyDeps } from '../helpers/api.js';
import { loadConfig } from '../../shared/config.js';
import { JOB_ERROR_CODES } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { assertProblem } from '../helpers/problem.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const root = join(import.meta.dirname, '..', '..');

/** Every .ts file under a source folder of the service. */
function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(root, dir, f));
}

/** The slugs written in the source: `new HttpProblem(<status>, '<slug>'` and limitProblem('<slug>'. */
function slugsInSource(): Set<string> {
  const found = new Set<string>();
  for (const file of [...sources('api'), ...sources('shared'), ...sources('worker')]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/new HttpProblem\(\s*\d{3},\s*'([a-z0-9-]+)'/g)) found.add(m[1]!);
    for (const m of text.matchAll(/limitProblem\(\s*'([a-z0-9-]+)'/g)) found.add(m[1]!);
  }
  return found;
}

describe('the catalogue', () => {
  test('holds every slug the source writes', () => {
    const written = slugsInSource();
    assert.ok(written.size >= 25, `only ${written.size} slugs found: is the pattern still right?`);
    const missing = [...written].filter((s) => !(PROBLEM_SLUGS as string[]).includes(s));
    assert.deepEqual(missing, []);
  });
  test("the source's status and title for each slug are the catalogue's", () => {
    const wrong: string[] = [];
    for (const file of [...sources('api'), ...sources('shared')]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new HttpProblem\(\s*(\d{3}),\s*'([a-z0-9-]+)',\s*'([^']+)'/g)) {
        const t = PROBLEM_TYPES[m[2] as keyof typeof PROBLEM_TYPES];
        if (!t || !(t.status as readonly number[]).includes(Number(m[1])) || t.title !== m[3]) {
          wrong.push(`${file}: ${m[1]} ${m[2]} "${m[3]}"`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });
  test('holds the slug of every job error code (POST /turdify/ answers them)', () => {
    for (const code of JOB_ERROR_CODES) assert.ok(PROBLEM_SLUGS.includes(JOB_FAILURE_SLUGS[code]), code);
  });
  test('every entry has a title, a 4xx/5xx status and an explanation', () => {
    for (const slug of PROBLEM_SLUGS) {
      const t = PROBLEM_TYPES[slug];
      assert.match(slug, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      assert.ok(t.title.length > 0 && t.explanation.length > 20, slug);
      for (const s of t.status) assert.ok(s >= 400 && s < 600, `${slug}: ${s}`);
    }
  });
});

describe('GET /problems', () => {
  let redisServer: TestRedis;
  let app: Express;
  let close: () => Promise<void>;
  before(async () => {
    redisServer = await startTestRedis();
    const config = loadConfig({ REDIS_URL: redisServer.url, KEY_PREFIX: redisServer.prefix });
    const built = await readyDeps(config, createLogger('problems-test', 'silent'));
    app = createApp(built.deps);
    close = built.close;
  });
  after(async () => {
    await close();
    await redisServer.close();
  });

  test("a problem's type resolves, against the request's URL, to its page", async () => {
    const r = await request(app).get('/jobs/00000000-0000-4000-8000-000000000000');
    const body = assertProblem(r, 404, 'job-not-found');
    const url = new URL(String(body.type), 'http://localhost:3000/jobs/00000000-0000-4000-8000-000000000000');
    assert.equal(url.pathname, '/problems/job-not-found');
    const page = await request(app).get(url.pathname).set('Accept', 'text/html');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.text, /<h1><code>job-not-found<\/code> — Not Found<\/h1>/);
  });

  test('every slug has an HTML page and a JSON answer', async () => {
    for (const slug of PROBLEM_SLUGS) {
      const html = await request(app).get(`/problems/${slug}`);
      assert.equal(html.status, 200, slug);
      assert.match(String(html.headers['content-type']), /^text\/html/);
      assert.ok(html.text.includes(`<code>${slug}</code>`), slug);
      const json = await request(app).get(`/problems/${slug}`).set('Accept', 'application/json');
      assert.equal(json.status, 200, slug);
      assert.match(String(json.headers['content-type']), /^application\/json/);
      assert.equal(json.body.type, `/problems/${slug}`);
      assert.equal(json.body.title, PROBLEM_TYPES[slug].title);
      assert.deepEqual(json.body.status, PROBLEM_TYPES[slug].status);
    }
  });

  test('the index lists them all, in HTML and in JSON', async () => {
    const html = await request(app).get('/problems');
    assert.equal(html.status, 200);
    for (const slug of PROBLEM_SLUGS) assert.ok(html.text.includes(`href="/problems/${slug}"`), slug);
    const json = await request(app).get('/problems').set('Accept', 'application/json');
    assert.deepEqual(
      (json.body.problems as { slug: string }[]).map((p) => p.slug),
      PROBLEM_SLUGS,
    );
  });

  test('an unknown slug is a 404 problem; a POST a 405', async () => {
    assertProblem(await request(app).get('/problems/no-such-thing'), 404, 'not-found');
    const r = await request(app).post('/problems/not-found');
    assertProblem(r, 405, 'method-not-allowed');
    assert.equal(r.headers.allow, 'GET, HEAD');
  });
});
