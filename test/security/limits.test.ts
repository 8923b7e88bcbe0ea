// Submission limits and idempotent submissions against a private Redis: 429 with Retry-After and
// the draft-8 RateLimit headers after RATE_LIMIT_PER_MINUTE, recovery once the window ends, one
// limit across API processes, per key or per address (TRUST_PROXY), the daily quota, and
// Idempotency-Key (sequential and concurrent retries make one job; another body is a 422).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { readyDeps } from '../helpers/api.js';
import { createApiKey } from '../../shared/apiKeys.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { redisKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { createRedis, waitReady } from '../../shared/redis.js';
import { until } from '../helpers/cluster.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { assertProblem } from '../helpers/problem.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const jpeg = readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg'));
const png = readFileSync(join(fixturesDir, 'astronaut.png'));
const log = createLogger('limits-test', 'silent');

let server: TestRedis;
let redis: Redis;
let base: Config;
const closers: (() => Promise<void>)[] = [];
let prefixes = 0;

before(async () => {
  server = await startTestRedis();
  redis = createRedis(server.url, 'client');
  await waitReady(redis, 5000);
  base = loadConfig({
    REDIS_URL: server.url,
    KEY_PREFIX: server.prefix,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '0',
    DAILY_JOB_QUOTA: '0',
  });
});

after(async () => {
  for (const close of closers) await close();
  redis.disconnect();
  await server.close();
});

/** An app (an API process) on its own key prefix, or on `prefix` to share one with another app. */
async function app(env: Partial<Config>, prefix = `${base.KEY_PREFIX}x${++prefixes}`) {
  const config = { ...base, KEY_PREFIX: prefix, ...env };
  const built = await readyDeps(config, log);
  closers.push(built.close);
  await waitReady(built.deps.redis, 5000);
  return { app: createApp(built.deps), deps: built.deps, keys: redisKeys(prefix) };
}

const submit = (a: Express, headers: Record<string, string> = {}, query = '') =>
  request(a).post(`/jobs${query}`).set(headers).attach('image', jpeg, 'face.jpg');

describe('RATE_LIMIT_PER_MINUTE', () => {
  test('429 problem+json past the limit, with Retry-After and RateLimit/RateLimit-Policy (draft 8); open again once the window ends', async () => {
    const { app: a, keys } = await app({ RATE_LIMIT_PER_MINUTE: 3 });
    for (let i = 0; i < 3; i++) {
      const r = await submit(a);
      assert.equal(r.status, 202, r.text);
      assert.match(String(r.headers.ratelimit), new RegExp(`^"3-in-1min"; r=${2 - i}; t=\\d+$`));
      assert.match(String(r.headers['ratelimit-policy']), /^"3-in-1min"; q=3; w=60; pk=:[A-Za-z0-9+/=]+:$/);
    }
    const over = await submit(a);
    const body = assertProblem(over, 429, 'rate-limited');
    assert.equal(body.limit, 3);
    const retryAfter = Number(over.headers['retry-after']);
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60,
      `Retry-After ${retryAfter}`,
    );
    assert.match(String(over.headers.ratelimit), /^"3-in-1min"; r=0; t=\d+$/);
    // A refused submission is refused before its upload is looked at.
    assertProblem(await request(a).post('/jobs').set('Content-Type', 'text/plain').send('x'), 429);

    // The window's counter lives in Redis with the window's TTL: end the window early.
    const [counter] = await redis.keys(`${keys.rateLimit('minute')}*`);
    assert.ok(counter, 'the counter is in Redis');
    assert.ok((await redis.pttl(counter)) > 0, 'with a TTL');
    await redis.pexpire(counter, 1);
    await until('the window to end', async () => (await redis.exists(counter)) === 0, 5000);
    const again = await submit(a);
    assert.equal(again.status, 202, again.text);
    assert.match(String(again.headers.ratelimit), /r=2;/);
  });

  test('one limit across API processes sharing a Redis', async () => {
    const prefix = `${base.KEY_PREFIX}shared`;
    const one = await app({ RATE_LIMIT_PER_MINUTE: 2 }, prefix);
    const two = await app({ RATE_LIMIT_PER_MINUTE: 2 }, prefix);
    assert.equal((await submit(one.app)).status, 202);
    assert.equal((await submit(two.app)).status, 202);
    assertProblem(await submit(one.app), 429, 'rate-limited');
    assertProblem(await submit(two.app), 429, 'rate-limited');
  });

  test('per API key when one is sent, else per client address', async () => {
    const { app: a, deps, keys } = await app({ RATE_LIMIT_PER_MINUTE: 1 });
    const alice = (await createApiKey(deps.redis, keys, 'alice')).key;
    const bob = (await createApiKey(deps.redis, keys, 'bob')).key;
    assert.equal((await submit(a, { Authorization: `Bearer ${alice}` })).status, 202);
    assertProblem(await submit(a, { Authorization: `Bearer ${alice}` }), 429);
    assert.equal((await submit(a, { Authorization: `Bearer ${bob}` })).status, 202);
    assert.equal((await submit(a)).status, 202, 'no key: this address has its own count');
    assertProblem(await submit(a), 429);
  });

  test('X-Forwarded-For is believed only with TRUST_PROXY', async () => {
    const distrust = await app({ RATE_LIMIT_PER_MINUTE: 1 });
    assert.equal((await submit(distrust.app, { 'X-Forwarded-For': '198.51.100.1' })).status, 202);
    assertProblem(await submit(distrust.app, { 'X-Forwarded-For': '198.51.100.2' }), 429);

    const trust = await app({ RATE_LIMIT_PER_MINUTE: 1, TRUST_PROXY: 1 });
    assert.equal((await submit(trust.app, { 'X-Forwarded-For': '198.51.100.1' })).status, 202);
    assert.equal((await submit(trust.app, { 'X-Forwarded-For': '198.51.100.2' })).status, 202);
    assertProblem(await submit(trust.app, { 'X-Forwarded-For': '198.51.100.1' }), 429);
    // One hop trusted: a client cannot hide behind an address it prepends itself.
    assertProblem(await submit(trust.app, { 'X-Forwarded-For': '203.0.113.9, 198.51.100.1' }), 429);
  });
});

describe('DAILY_JOB_QUOTA', () => {
  test('counts accepted jobs per key: refusals and idempotent retries are free; past it, 429 quota-exceeded', async () => {
    const { app: a, deps, keys } = await app({ DAILY_JOB_QUOTA: 2 });
    const key = (await createApiKey(deps.redis, keys, 'quota')).key;
    const auth = { Authorization: `Bearer ${key}` };
    assertProblem(await submit(a, auth, '?emoji=nope'), 400);
    const first = await submit(a, { ...auth, 'Idempotency-Key': 'q-1' });
    assert.equal(first.status, 202, first.text);
    assert.match(String(first.headers.ratelimit), /^"2-in-1day"; r=1; t=\d+$/);
    assert.equal((await submit(a, auth)).status, 202);
    const over = await submit(a, auth);
    assertProblem(over, 429, 'quota-exceeded');
    assert.ok(Number(over.headers['retry-after']) > 60 * 60, 'comes back after the 24-hour window');
    // The retry of a submission that made its job still answers it, quota spent or not.
    const retry = await submit(a, { ...auth, 'Idempotency-Key': 'q-1' });
    assert.equal(retry.status, 202, retry.text);
    assert.equal(retry.body.id, first.body.id);
    // Without a key (REQUIRE_API_KEY off) there is no quota, only the per-minute limit.
    for (let i = 0; i < 3; i++) assert.equal((await submit(a)).status, 202);
  });
});

describe('Idempotency-Key', () => {
  test('the same key and request: the same job, no second one; another body or other options: 422', async () => {
    const { app: a, deps } = await app({});
    const waiting = () => deps.queue.getWaitingCount();
    const before = await waiting();
    const first = await submit(
      a,
      { 'Idempotency-Key': '"8e03978e-40d5-43e8-bc93-6894a57f9324"' },
      '?emoji=ghost',
    );
    assert.equal(first.status, 202, first.text);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    const again = await submit(
      a,
      { 'Idempotency-Key': '8e03978e-40d5-43e8-bc93-6894a57f9324' },
      '?emoji=ghost',
    );
    assert.equal(again.status, 202, again.text);
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.headers.location, `/jobs/${first.body.id}`);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(await waiting(), before + 1, 'one job');

    const otherBody = await request(a)
      .post('/jobs?emoji=ghost')
      .set('Idempotency-Key', '8e03978e-40d5-43e8-bc93-6894a57f9324')
      .attach('image', png, 'other.png');
    assertProblem(otherBody, 422, 'idempotency-key-reused');
    const otherOptions = await submit(
      a,
      { 'Idempotency-Key': '8e03978e-40d5-43e8-bc93-6894a57f9324' },
      '?emoji=poop',
    );
    assertProblem(otherOptions, 422, 'idempotency-key-reused');
    assert.equal(await waiting(), before + 1, 'still one job');
  });

  test('concurrent retries with one key make one job, and all answer it', async () => {
    const { app: a, deps } = await app({});
    const before = await deps.queue.getWaitingCount();
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => submit(a, { 'Idempotency-Key': 'concurrent-1' })),
    );
    for (const r of answers) assert.equal(r.status, 202, r.text);
    assert.equal(new Set(answers.map((r) => r.body.id)).size, 1, 'one job id');
    assert.equal(answers.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 5);
    assert.equal(await deps.queue.getWaitingCount(), before + 1, 'one job');
  });

  test('keys are per API key; a refused first attempt leaves the key free; a malformed key is a 400', async () => {
    const { app: a, deps, keys } = await app({});
    const alice = (await createApiKey(deps.redis, keys, 'alice')).key;
    const mine = await submit(a, { 'Idempotency-Key': 'shared-name', Authorization: `Bearer ${alice}` });
    const anon = await submit(a, { 'Idempotency-Key': 'shared-name' });
    assert.equal(mine.status, 202);
    assert.equal(anon.status, 202);
    assert.notEqual(mine.body.id, anon.body.id);

    assertProblem(await submit(a, { 'Idempotency-Key': 'fix-and-retry' }, '?emoji=nope'), 400);
    assert.equal((await submit(a, { 'Idempotency-Key': 'fix-and-retry' }, '?emoji=alien')).status, 202);

    assertProblem(await submit(a, { 'Idempotency-Key': '' }), 400, 'invalid-idempotency-key');
    assertProblem(await submit(a, { 'Idempotency-Key': 'x'.repeat(256) }), 400, 'invalid-idempotency-key');
  });
});
