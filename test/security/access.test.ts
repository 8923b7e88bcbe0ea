// Who may see what, on a real API server and a private Redis: API keys (401s), a job visible only
// to the key that made it on every route, operator routes behind ADMIN_TOKEN (or on METRICS_PORT),
// and the security headers (CSP, CORS only for listed origins).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { startApi, type RunningApi } from '../../api/server.js';
import { createApiKey, revokeApiKey } from '../../shared/apiKeys.js';
import type { Config } from '../../shared/config.js';
import { redisKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { createRedis, waitReady } from '../../shared/redis.js';
import { readyDeps, testApiConfig } from '../helpers/api.js';
import { until } from '../helpers/cluster.js';
import { FAKE_RESULT, startFakeWorker } from '../helpers/fakeWorker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { assertProblem } from '../helpers/problem.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const jpeg = readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg'));
const log = createLogger('access-test', 'silent');
const ADMIN_TOKEN = 'admin-token-for-the-tests-0123456789';

let server: TestRedis;
let config: Config;
let api: RunningApi;
let redis: Redis;
let worker: { close(): Promise<void> };
let alice: string;
let bob: string;

before(async () => {
  server = await startTestRedis();
  config = testApiConfig(server, {
    LOG_LEVEL: 'silent',
    REQUIRE_API_KEY: 'true',
    ADMIN_TOKEN,
    WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    SHUTDOWN_TIMEOUT_SECONDS: '2',
  });
  redis = createRedis(server.url, 'client');
  await waitReady(redis, 5000);
  const keys = redisKeys(config.KEY_PREFIX);
  alice = (await createApiKey(redis, keys, 'alice')).key;
  bob = (await createApiKey(redis, keys, 'bob')).key;
  api = await startApi(config, log);
  worker = await startFakeWorker(config);
});

after(async () => {
  await worker.close();
  await api.close();
  redis.disconnect();
  await server.close();
});

const as = (key: string) => ({ Authorization: `Bearer ${key}` });
const submitAs = (key: string, query = '') =>
  request(api.url).post(`/jobs${query}`).set(as(key)).attach('image', jpeg, 'face.jpg');

async function completedJob(key: string, query = ''): Promise<string> {
  const r = await submitAs(key, query);
  assert.equal(r.status, 202, r.text);
  const id = String(r.body.id);
  const done = await request(api.url).get(`/jobs/${id}?wait=10`).set(as(key));
  assert.equal(done.body.status, 'completed', done.text);
  return id;
}

describe('API keys', () => {
  test('401 problem+json with WWW-Authenticate without a key, with a wrong one, or a malformed header', async () => {
    for (const req of [
      request(api.url).post('/jobs').attach('image', jpeg, 'face.jpg'),
      request(api.url).get('/jobs/0b5a2c1e-1d2f-4a6b-8c9d-0e1f2a3b4c5d'),
      request(api.url).post('/turdify/').attach('my_file', jpeg, 'face.jpg'),
    ]) {
      const r = await req;
      assertProblem(r, 401, 'unauthorized');
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="turdify"');
    }
    const wrong = await request(api.url)
      .post('/jobs')
      .set(as('tdy_not-a-key'))
      .attach('image', jpeg, 'a.jpg');
    assertProblem(wrong, 401, 'unauthorized');
    assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="turdify", error="invalid_token"');
    // A proxy's Basic auth passed through is not a key: with keys required, it is "no key".
    const basic = await request(api.url).get('/jobs/x').set('Authorization', 'Basic YTpi');
    assertProblem(basic, 401, 'unauthorized');
    assert.equal(basic.headers['www-authenticate'], 'Bearer realm="turdify"');
  });

  test('Authorization: Bearer and X-API-Key both work; a revoked key stops at once', async () => {
    assert.equal((await submitAs(alice)).status, 202);
    const x = await request(api.url).post('/jobs').set('X-API-Key', alice).attach('image', jpeg, 'a.jpg');
    assert.equal(x.status, 202, x.text);
    const { key: carol } = await createApiKey(redis, redisKeys(config.KEY_PREFIX), 'carol');
    assert.equal((await submitAs(carol)).status, 202);
    assert.equal(await revokeApiKey(redis, redisKeys(config.KEY_PREFIX), 'carol'), true);
    assertProblem(await submitAs(carol), 401, 'unauthorized');
  });

  test('keys and the admin token never reach the logs', async () => {
    const lines: string[] = [];
    const captured = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const built = await readyDeps({ ...config, KEY_PREFIX: `${config.KEY_PREFIX}l` }, captured);
    try {
      const app = createApp(built.deps);
      await request(app).get('/jobs/x').set(as(alice));
      await request(app).get('/jobs/x').set('X-API-Key', bob);
      await request(app).get('/workers').set(as(ADMIN_TOKEN));
      const logged = lines.join('');
      assert.match(logged, /"authorization":"\[redacted\]"/);
      for (const secret of [alice, bob, ADMIN_TOKEN])
        assert.ok(!logged.includes(secret), 'a secret was logged');
    } finally {
      await built.close();
    }
  });

  test('/healthz, /readyz and /emojis answer without a key', async () => {
    for (const path of ['/healthz', '/readyz', '/emojis'])
      assert.equal((await request(api.url).get(path)).status, 200, path);
  });
});

describe('a job belongs to the key that made it', () => {
  test('another key gets the same 404 as for a job that does not exist, on every route', async () => {
    const id = await completedJob(alice, '?callback_url=http://127.0.0.1:9/hook');
    // What the owner sees.
    const own = await request(api.url).get(`/jobs/${id}`).set(as(alice));
    assert.equal(own.status, 200);
    assert.equal(own.body.webhook.url, 'http://127.0.0.1:9/hook');
    const result = await request(api.url).get(`/jobs/${id}/result`).set(as(alice)).buffer(true);
    assert.equal(result.status, 200);
    assert.ok(Buffer.from(result.body as Buffer).equals(FAKE_RESULT));
    const events = await request(api.url).get(`/jobs/${id}/events`).set(as(alice)).buffer(true);
    assert.match(events.text, /event: completed/);

    // What another key sees: exactly what an unknown id gets, id aside.
    const unknown = '0b5a2c1e-1d2f-4a6b-8c9d-0e1f2a3b4c5d';
    const answers = async (jobId: string) => [
      await request(api.url).get(`/jobs/${jobId}`).set(as(bob)),
      await request(api.url).get(`/jobs/${jobId}?wait=1`).set(as(bob)),
      await request(api.url).get(`/jobs/${jobId}/result`).set(as(bob)),
      await request(api.url).get(`/jobs/${jobId}/events`).set(as(bob)),
      await request(api.url).delete(`/jobs/${jobId}`).set(as(bob)),
    ];
    const theirs = await answers(id);
    const none = await answers(unknown);
    for (const [i, r] of theirs.entries()) {
      const body = assertProblem(r, 404, 'job-not-found');
      const other = assertProblem(none[i]!, 404, 'job-not-found');
      assert.equal(String(body.detail).replace(id, 'ID'), String(other.detail).replace(unknown, 'ID'));
      assert.deepEqual(Object.keys(body).sort(), Object.keys(other).sort());
    }
    const head = await request(api.url).head(`/jobs/${id}/result`).set(as(bob));
    assert.equal(head.status, 404);

    // Bob's DELETE did nothing: the job and its result are still Alice's.
    assert.equal((await request(api.url).get(`/jobs/${id}`).set(as(alice))).status, 200);
    assert.equal((await request(api.url).get(`/jobs/${id}/result`).set(as(alice))).status, 200);
    assert.equal((await request(api.url).delete(`/jobs/${id}`).set(as(alice))).status, 204);
    assertProblem(await request(api.url).get(`/jobs/${id}`).set(as(alice)), 404, 'job-not-found');
  });

  test('without REQUIRE_API_KEY, jobs made without a key are invisible to keys, and the reverse', async () => {
    const open = await readyDeps({ ...config, REQUIRE_API_KEY: false }, log);
    try {
      const app = createApp(open.deps);
      const anon = await request(app).post('/jobs').attach('image', jpeg, 'a.jpg');
      assert.equal(anon.status, 202, anon.text);
      const keyed = await request(app).post('/jobs').set(as(alice)).attach('image', jpeg, 'a.jpg');
      assert.equal(keyed.status, 202, keyed.text);
      assert.equal((await request(app).get(`/jobs/${anon.body.id}`)).status, 200);
      assertProblem(await request(app).get(`/jobs/${anon.body.id}`).set(as(alice)), 404);
      assertProblem(await request(app).get(`/jobs/${keyed.body.id}`), 404);
      // A wrong key is still refused, not taken for "no key".
      assertProblem(await request(app).get(`/jobs/${anon.body.id}`).set(as('tdy_wrong')), 401);
    } finally {
      await open.close();
    }
  });
});

describe('operator routes', () => {
  test('/metrics and /workers need ADMIN_TOKEN; /readyz lists workers only for it; /healthz stays open', async () => {
    for (const path of ['/metrics', '/workers']) {
      const none = await request(api.url).get(path);
      assertProblem(none, 401, 'unauthorized');
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="turdify-admin"');
      assertProblem(await request(api.url).get(path).set(as('wrong-token-wrong-token')), 401);
      assertProblem(await request(api.url).get(path).set(as(alice)), 401); // an API key is not the token
      assert.equal((await request(api.url).get(path).set(as(ADMIN_TOKEN))).status, 200, path);
    }
    const publicReady = await request(api.url).get('/readyz');
    assert.equal(typeof publicReady.body.workers.count, 'number');
    assert.equal(publicReady.body.workers.list, undefined);
    const adminReady = await request(api.url).get('/readyz').set(as(ADMIN_TOKEN));
    assert.ok(Array.isArray(adminReady.body.workers.list));
    assert.equal((await request(api.url).get('/healthz')).status, 200);
  });

  test('METRICS_PORT serves /metrics on its own port, without the token, and not on PORT', async () => {
    const separate = await startApi({ ...config, METRICS_PORT: 0, KEY_PREFIX: `${config.KEY_PREFIX}m` }, log);
    try {
      const metricsUrl = separate.metricsUrl;
      assert.ok(metricsUrl);
      // 503 until its Redis connection is up, then 200.
      const m = await until(
        'metrics',
        async () => {
          const r = await request(metricsUrl).get('/metrics');
          return r.status === 200 && r;
        },
        10_000,
      );
      assert.match(m.text, /turdify_upload_memory_bytes 0/);
      assertProblem(await request(metricsUrl).get('/jobs'), 404);
      assertProblem(await request(separate.url).get('/metrics').set(as(ADMIN_TOKEN)), 404);
    } finally {
      await separate.close();
    }
  });
});

describe('security headers', () => {
  test('a Content-Security-Policy for a same-origin page, and the other helmet headers', async () => {
    for (const path of ['/healthz', '/nowhere']) {
      const r = await request(api.url).get(path);
      assert.equal(
        r.headers['content-security-policy'],
        "default-src 'self';script-src 'self';script-src-attr 'none';style-src 'self';" +
          "img-src 'self' blob: data:;connect-src 'self';font-src 'self';object-src 'none';" +
          "base-uri 'self';form-action 'self';frame-ancestors 'none'",
      );
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['x-frame-options'], 'DENY');
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
      assert.equal(r.headers['strict-transport-security'], 'max-age=31536000');
      assert.equal(r.headers['x-powered-by'], undefined);
    }
  });

  test('no CORS headers by default; with CORS_ORIGINS, only the listed origins', async () => {
    const r = await request(api.url).get('/healthz').set('Origin', 'https://evil.example');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    const withCors = await readyDeps({ ...config, CORS_ORIGINS: ['https://app.example'] }, log);
    try {
      const app = createApp(withCors.deps);
      const ok = await request(app).get('/healthz').set('Origin', 'https://app.example');
      assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
      assert.match(String(ok.headers['access-control-expose-headers']), /RateLimit/);
      const evil = await request(app).get('/healthz').set('Origin', 'https://evil.example');
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
      const preflight = await request(app)
        .options('/jobs')
        .set('Origin', 'https://app.example')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization, idempotency-key');
      assert.equal(preflight.status, 204);
      assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
      assert.match(String(preflight.headers['access-control-allow-headers']), /Idempotency-Key/);
    } finally {
      await withCors.close();
    }
  });
});
