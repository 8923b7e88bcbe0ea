// The queue dashboard (/admin/queues, bull-board): absent without ADMIN_TOKEN; with it, 401
// without the token, 200 with it (HTTP Basic or Bearer); read-only; and its JSON API shows no
// personal data: no callback path or query, no API key id, no face positions. A private
// redis-server; a BullMQ worker inside the test completes the job (test/helpers/fakeWorker.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { createDeps } from '../../api/server.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { newJobId } from '../../shared/jobs.js';
import { createLogger } from '../../shared/logger.js';
import { enqueueWebhook, webhookEvent } from '../../shared/webhooks.js';
import { startFakeWorker } from '../helpers/fakeWorker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { assertProblem } from '../helpers/problem.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const TOKEN = 'admin-token-for-the-dashboard-test';
const CALLBACK = 'https://hooks.example.com/private-path-7f3a?token=callback-secret-91b2';
const OWNER = 'owner-key-id-5c8e';
const log = createLogger('admin-test', 'silent');
const jpeg = readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg'));
const basic = (password: string) => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;

let redisServer: TestRedis;
let base: Config;

before(async () => {
  redisServer = await startTestRedis();
  base = loadConfig({ REDIS_URL: redisServer.url, KEY_PREFIX: redisServer.prefix });
});
after(async () => {
  await redisServer.close();
});

function appWith(config: Config): {
  app: Express;
  close(): Promise<void>;
  deps: ReturnType<typeof createDeps>['deps'];
} {
  const built = createDeps(config, log);
  return { app: createApp(built.deps), close: built.close, deps: built.deps };
}

test('without ADMIN_TOKEN there is no dashboard: 404 not-found', async () => {
  const { app, close } = appWith(base);
  try {
    assertProblem(await request(app).get('/admin/queues'), 404, 'not-found');
    assertProblem(await request(app).get('/admin/queues/api/queues'), 404, 'not-found');
  } finally {
    await close();
  }
});

describe('with ADMIN_TOKEN', () => {
  let api: ReturnType<typeof appWith>;
  let worker: { close(): Promise<void> };
  before(async () => {
    api = appWith({ ...base, ADMIN_TOKEN: TOKEN });
    worker = await startFakeWorker(base);
  });
  after(async () => {
    await worker.close();
    await api.close();
  });

  test('401 without the token or with a wrong one, asking for Basic', async () => {
    for (const auth of [undefined, basic('wrong-token-wrong-token'), `Bearer ${TOKEN}x`]) {
      const req = request(api.app).get('/admin/queues');
      const r = await (auth ? req.set('Authorization', auth) : req);
      assertProblem(r, 401, 'unauthorized');
      assert.match(String(r.headers['www-authenticate']), /^Basic realm="turdify-admin"/);
    }
    assertProblem(await request(api.app).get('/admin/queues/api/queues'), 401, 'unauthorized');
  });

  test('200 with the token, as Basic password or Bearer; the page loads only its own files', async () => {
    const page = await request(api.app).get('/admin/queues').set('Authorization', basic(TOKEN));
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const bearer = await request(api.app)
      .get('/admin/queues/api/queues')
      .set('Authorization', `Bearer ${TOKEN}`);
    assert.equal(bearer.status, 200);
    assert.equal(page.headers['x-powered-by'], undefined);
    assert.equal(bearer.headers['x-powered-by'], undefined);
    // The CSP: inline styles allowed here only, scripts and everything else from this origin.
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /style-src 'self' 'unsafe-inline'/);
    assert.match(csp, /script-src 'self';/);
    assert.doesNotMatch(csp, /https?:/);
    const other = await request(api.app).get('/healthz');
    assert.doesNotMatch(String(other.headers['content-security-policy']), /unsafe-inline/);
    // Every script and stylesheet of this origin it names is served.
    const own = [...page.text.matchAll(/(?:src|href)="(static\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(own.length >= 3, String(own));
    for (const file of own) {
      const r = await request(api.app).get(`/admin/queues/${file}`).set('Authorization', basic(TOKEN));
      assert.equal(r.status, 200, file);
    }
  });

  test('its JSON shows jobs without callback secrets, API key ids or face positions', async () => {
    const { deps } = api;
    // A job with a callback and an owner, completed by the fake worker, and a webhook for it.
    const id = newJobId();
    const data = {
      v: 1 as const,
      options: {
        mode: 'emoji' as const,
        emoji: 'poop',
        coverScale: 1.1,
        format: 'png' as const,
        minConfidence: 0.3,
      },
      input: { format: 'jpeg' as const, width: 320, height: 320, bytes: jpeg.length },
      submittedAt: Date.now(),
      baseUrl: 'http://localhost:3000',
      callbackUrl: CALLBACK,
      owner: OWNER,
    };
    await deps.store.putInput(id, jpeg, 1_000_000);
    const job = await deps.queue.add('turdify', data, { jobId: id });
    const done = await request(api.app).get(`/jobs/${id}?wait=10`);
    assert.equal(done.status, 404, 'another key owns it'); // an anonymous client cannot see it
    for (let i = 0; i < 100 && !(await job.isCompleted()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(await job.isCompleted());
    const ended = await deps.queue.getJob(id);
    await enqueueWebhook(deps.webhooks, id, CALLBACK, webhookEvent(id, data, { result: ended!.returnvalue }));

    const auth = { Authorization: basic(TOKEN) };
    const answers = [
      await request(api.app).get('/admin/queues/api/queues?activeQueue=jobs&status=latest&page=1').set(auth),
      await request(api.app)
        .get('/admin/queues/api/queues?activeQueue=webhooks&status=latest&page=1')
        .set(auth),
      await request(api.app).get(`/admin/queues/api/queues/jobs/${id}`).set(auth),
      await request(api.app).get(`/admin/queues/api/queues/webhooks/${id}`).set(auth),
    ];
    for (const r of answers) assert.equal(r.status, 200, r.text);
    const text = answers.map((r) => r.text).join('\n');
    // The dashboard shows the job: what it did and where the callback goes (its origin only).
    assert.ok(text.includes(id));
    assert.ok(text.includes('"callback":"https://hooks.example.com"'), text.slice(0, 2000));
    assert.ok(text.includes('"faces":1'));
    assert.match(answers[3]!.text, /"event":\{"type":"job.completed"/);
    for (const secret of ['private-path-7f3a', 'callback-secret-91b2', OWNER, '"landmarks"', '"boxes"']) {
      assert.ok(!text.includes(secret), `the dashboard shows ${secret}`);
    }
    assert.ok(!text.includes(jpeg.subarray(0, 64).toString('base64')), 'the dashboard shows image bytes');
  });

  test('read-only: it cannot add, retry or clean jobs', async () => {
    const auth = { Authorization: basic(TOKEN) };
    const add = await request(api.app)
      .post('/admin/queues/api/queues/jobs/add')
      .set(auth)
      .send({ name: 'turdify', data: {} });
    assert.ok(add.status >= 400, `add answered ${add.status}`);
    const clean = await request(api.app).put('/admin/queues/api/queues/jobs/clean/completed').set(auth);
    assert.ok(clean.status >= 400, `clean answered ${clean.status}`);
    assert.equal(await api.deps.queue.getCompletedCount(), 1);
  });
});
