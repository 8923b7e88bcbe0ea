// The HTTP API against a private Redis. No worker process runs: where a job must finish, a BullMQ
// Worker inside the test plays the worker's part.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { lookupJob } from '../../api/jobLookup.js';
import { startApi, type RunningApi } from '../../api/server.js';
import type { Config } from '../../shared/config.js';
import { formatFailure, JOB_ERROR_CODES, type JobErrorCode } from '../../shared/errors.js';
import type { TurdifyJobData, TurdifyJobResult } from '../../shared/jobs.js';
import { QUEUE_NAME, redisKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { createRedis } from '../../shared/redis.js';
import { readyDeps, testApiConfig } from '../helpers/api.js';
import { hugePng } from '../helpers/damage.js';
import { FAKE_RESULT, fakeResult } from '../helpers/fakeWorker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { needsPrivateRedis, startTestRedis, type TestRedis } from '../helpers/redis.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const jpeg = readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg'));
const log = createLogger('api-test', 'silent');

function assertProblem(res: request.Response, status: number): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  assert.equal(body.status, status);
  assert.match(String(body.type), /^\/problems\/[a-z0-9-]+$/);
  assert.equal(typeof body.title, 'string');
  assert.equal(body.stack, undefined);
}
const problem = (res: request.Response) => JSON.parse(res.text) as Record<string, unknown>;

let redisServer: TestRedis;
let config: Config;
let api: RunningApi;
let redis: Redis;
let keys: ReturnType<typeof redisKeys>;

before(async () => {
  redisServer = await startTestRedis();
  config = testApiConfig(redisServer, {
    SYNC_TIMEOUT_SECONDS: '1',
    SHUTDOWN_TIMEOUT_SECONDS: '2',
  });
  keys = redisKeys(config.KEY_PREFIX);
  api = await startApi(config, log);
  redis = createRedis(redisServer.url, 'blocking');
});

after(async () => {
  await api.close();
  redis.disconnect();
  await redisServer.close();
});

const submit = (query = '') => request(api.url).post(`/jobs${query}`).attach('image', jpeg, 'face.jpg');

describe('validation', () => {
  test('400 without a file', async () => {
    assertProblem(await request(api.url).post('/jobs').field('emoji', 'poop'), 400);
    assertProblem(await request(api.url).post('/jobs'), 400);
  });
  test('400 for bad options, naming them', async () => {
    assertProblem(await submit().field('emoji', 'nope'), 400);
    assertProblem(await submit().field('format', 'gif'), 400);
    const r = await submit().field('min_confidence', '2');
    assertProblem(r, 400);
    assert.match(String(problem(r).detail), /min_confidence/);
    assertProblem(await submit('?min_confidence=abc'), 400);
    const u = await submit('?colour=red').field('size', 'xl');
    assertProblem(u, 400);
    assert.deepEqual(problem(u).unknown_options, ['colour', 'size']);
  });
  test('400 for a malformed multipart body or URL, never 500', async () => {
    const cut = '--XX\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\nabc';
    for (const type of ['multipart/form-data; boundary=XX', 'multipart/form-data']) {
      const r = await request(api.url).post('/jobs').set('Content-Type', type).send(cut);
      assertProblem(r, 400);
      assert.match(String(problem(r).detail), /multipart/);
    }
    assertProblem(await request(api.url).get('/jobs/%zz'), 400);
    assertProblem(await request(api.url).get('/jobs/%zz/result'), 400);
    // A declared image type with no body at all is a missing image, not a wrong type.
    assertProblem(await request(api.url).post('/jobs').set('Content-Type', 'image/jpeg'), 400);
  });

  test('400 for a file in the wrong field', async () => {
    const r = await request(api.url).post('/jobs').attach('picture', jpeg, 'a.jpg');
    assertProblem(r, 400);
    assert.match(String(problem(r).detail), /picture/);
  });
  test('404 for unknown and malformed ids, and unknown routes', async () => {
    assertProblem(await request(api.url).get('/jobs/0b5a2c1e-1d2f-4a6b-8c9d-0e1f2a3b4c5d'), 404);
    assertProblem(await request(api.url).get('/jobs/not-a-uuid'), 404);
    assertProblem(await request(api.url).get('/jobs/not-a-uuid/result'), 404);
    assertProblem(await request(api.url).delete('/jobs/0b5a2c1e-1d2f-4a6b-8c9d-0e1f2a3b4c5d'), 404);
    assertProblem(await request(api.url).get('/nowhere'), 404);
  });
  test('405 with Allow for a wrong method', async () => {
    const r = await request(api.url).get('/jobs');
    assertProblem(r, 405);
    assert.equal(r.headers.allow, 'POST');
  });
  test('413 for an upload over MAX_UPLOAD_BYTES (multipart and raw)', async () => {
    const small = await readyDeps({ ...config, MAX_UPLOAD_BYTES: 1000 }, log);
    try {
      const app = createApp(small.deps);
      assertProblem(await request(app).post('/jobs').attach('image', jpeg, 'a.jpg'), 413);
      assertProblem(await request(app).post('/jobs').set('Content-Type', 'image/jpeg').send(jpeg), 413);
    } finally {
      await small.close();
    }
  });
  test('413 for too many pixels, before decoding', async () => {
    const r = await request(api.url).post('/jobs').attach('image', hugePng(100_000, 100_000), 'huge.png');
    assertProblem(r, 413);
  });
  test('415 for text, SVG, and text declared as JPEG', async () => {
    assertProblem(
      await request(api.url).post('/jobs').attach('image', Buffer.from('hello world\n'), 'a.txt'),
      415,
    );
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>');
    assertProblem(
      await request(api.url)
        .post('/jobs')
        .attach('image', svg, { filename: 'a.svg', contentType: 'image/svg+xml' }),
      415,
    );
    assertProblem(
      await request(api.url)
        .post('/jobs')
        .attach('image', Buffer.from('not a jpeg at all'), { filename: 'a.jpg', contentType: 'image/jpeg' }),
      415,
    );
    assertProblem(
      await request(api.url).post('/jobs').set('Content-Type', 'image/jpeg').send(Buffer.from('plain text')),
      415,
    );
  });
  test('422 for a truncated JPEG', async () => {
    const half = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    assertProblem(await request(api.url).post('/jobs').attach('image', half, 'half.jpg'), 422);
  });
});

describe('queued jobs (no worker)', () => {
  test('202 + Location, input stored as a binary key with a TTL', async () => {
    const r = await submit('?emoji=ghost').field('min_confidence', '0.3');
    assert.equal(r.status, 202, r.text);
    const body = r.body as {
      id: string;
      status: string;
      options: unknown;
      input: { format: string; bytes: number; width: number; height: number };
      links: { self: string };
    };
    assert.match(body.id, UUID);
    assert.equal(r.headers.location, `/jobs/${body.id}`);
    assert.equal(body.status, 'queued');
    assert.deepEqual(body.options, {
      mode: 'emoji',
      emoji: 'ghost',
      cover_scale: 1.1,
      format: 'jpeg',
      min_confidence: 0.3,
    });
    assert.equal(body.input.format, 'jpeg');
    assert.equal(body.input.bytes, jpeg.length);
    assert.ok(body.input.width > 0 && body.input.height > 0);
    assert.equal(body.links.self, `${api.url}/jobs/${body.id}`);
    const stored = await redis.getBuffer(keys.input(body.id));
    assert.ok(stored && stored.equals(jpeg));
    const ttl = await redis.ttl(keys.input(body.id));
    assert.ok(ttl > 0 && ttl <= config.INPUT_TTL_SECONDS);

    const g = await request(api.url).get(`/jobs/${body.id}`);
    assert.equal(g.status, 200);
    assert.equal(g.body.status, 'queued');
    assert.equal(g.headers['retry-after'], '1');
  });
  test('503 queue-full with Retry-After past MAX_QUEUED_JOBS', async () => {
    const built = await readyDeps({ ...config, MAX_QUEUED_JOBS: 1 }, log);
    try {
      const app = createApp(built.deps);
      const stored = async () => (await redis.keys(keys.input('*'))).length;
      const before = await stored();
      // Earlier tests left jobs waiting (no worker runs here): the queue is already at the limit.
      const r = await request(app).post('/jobs').attach('image', jpeg, 'face.jpg');
      assertProblem(r, 503);
      assert.equal(r.headers['retry-after'], '5');
      assert.equal(problem(r).type, '/problems/queue-full');
      // The upload was stored while the queue was counted (one round trip), then removed.
      assert.equal(await stored(), before);
    } finally {
      await built.close();
    }
  });

  test("a long poll's end seen in an event is checked against the record, not trusted blindly", async () => {
    const { body } = await submit();
    const built = await readyDeps(config, log);
    try {
      // A "completed" hint for a job that is still waiting: the record has no finishedOn, so the
      // lookup reads the state after all.
      if (built.deps.redis.status !== 'ready') await once(built.deps.redis, 'ready');
      const found = await lookupJob(built.deps, body.id, undefined, 'completed');
      assert.equal(found.state, 'waiting');
    } finally {
      await built.close();
    }
  });

  test('raw image/* body is accepted', async () => {
    const r = await request(api.url).post('/jobs?format=webp').set('Content-Type', 'image/jpeg').send(jpeg);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.options.format, 'webp');
  });
  test('409 for the result of a queued job, carrying the job status', async () => {
    const { body } = await submit();
    const r = await request(api.url).get(`/jobs/${body.id}/result`);
    assertProblem(r, 409);
    // RFC 9457: `status` is the HTTP status; the job's own is an extension member.
    assert.equal(problem(r).status, 409);
    assert.equal(problem(r).job_status, 'queued');
    assert.equal(problem(r).job_id, body.id);
    assert.equal(r.headers['retry-after'], '1');
  });
  test('DELETE a waiting job → 204, then 404, keys gone', async () => {
    const { body } = await submit();
    const d = await request(api.url).delete(`/jobs/${body.id}`);
    assert.equal(d.status, 204);
    assertProblem(await request(api.url).get(`/jobs/${body.id}`), 404);
    assert.equal(await redis.exists(keys.input(body.id), keys.bullJob(body.id)), 0);
  });
  test('/turdify/ answers 415 for a non-image and 504 when no worker finishes in time', async () => {
    const bad = await request(api.url).post('/turdify/').attach('my_file', Buffer.from('hello'), 'a.txt');
    assertProblem(bad, 415);
    const r = await request(api.url).post('/turdify/').attach('my_file', jpeg, 'face.jpg');
    assertProblem(r, 504);
    const p = problem(r);
    assert.match(String(p.job_id), UUID);
    assert.equal(p.job_url, `${api.url}/jobs/${String(p.job_id)}`);
  });
  test('GET /emojis', async () => {
    const r = await request(api.url).get('/emojis');
    assert.equal(r.status, 200);
    assert.ok(r.body.emojis.some((e: { name: string; default: boolean }) => e.name === 'poop' && e.default));
  });
  test('/healthz and /readyz', async () => {
    const h = await request(api.url).get('/healthz');
    assert.deepEqual(h.body, { status: 'ok' });
    const r = await request(api.url).get('/readyz');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'ready');
    assert.equal(r.body.redis, 'ok');
    assert.equal(r.body.workers.count, 0);
    assert.equal(typeof r.body.queue.waiting, 'number');
  });
});

/** The test worker fails a job whose image is this many pixels wide with this code. */
const failByWidth = new Map<number, JobErrorCode>(JOB_ERROR_CODES.map((code, i) => [20 + i, code]));

describe('finished jobs (a test worker)', () => {
  const resultBytes = FAKE_RESULT;
  let worker: Worker<TurdifyJobData, TurdifyJobResult>;
  let workerRedis: Redis;
  let wr: Redis;

  before(async () => {
    const { RedisImageStore } = await import('../../shared/imageStore.js');
    wr = createRedis(redisServer.url, 'client');
    const store = new RedisImageStore(wr, keys, { inputSeconds: 60, resultSeconds: 60 });
    workerRedis = createRedis(redisServer.url, 'blocking');
    worker = new Worker<TurdifyJobData, TurdifyJobResult>(
      QUEUE_NAME,
      async (job) => {
        if (job.data.options.emoji === 'alien') throw new UnrecoverableError('[corrupt_image] bad');
        const code = failByWidth.get(job.data.input.width);
        if (code) throw new UnrecoverableError(formatFailure(code, `failed with ${code}`));
        if (job.data.options.emoji === 'sunglasses') await sleep(1500);
        await store.putResult(job.id!, resultBytes);
        await store.deleteInput(job.id!);
        return fakeResult(job);
      },
      { connection: workerRedis, prefix: config.KEY_PREFIX, concurrency: 4 },
    );
    await worker.waitUntilReady();
  });
  after(async () => {
    await worker.close();
    workerRedis.disconnect();
    wr.disconnect();
  });

  async function poll(id: string) {
    for (let i = 0; i < 100; i++) {
      const r = await request(api.url).get(`/jobs/${id}`);
      if (r.body.status === 'completed' || r.body.status === 'failed') return r;
      await sleep(50);
    }
    throw new Error('job did not finish');
  }

  test('completed: view, result bytes, ETag, 304, HEAD', async () => {
    const { body } = await submit('?format=png');
    const r = await poll(body.id);
    assert.equal(r.body.status, 'completed');
    assert.equal(r.body.progress, 100);
    assert.equal(r.headers['retry-after'], undefined);
    assert.equal(r.body.faces.length, 1);
    assert.equal(r.body.result.url, `${api.url}/jobs/${body.id}/result`);
    assert.equal(r.body.result.content_type, 'image/png');
    assert.ok(r.body.finished_at);
    const res = await request(api.url).get(`/jobs/${body.id}/result`).buffer(true);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'image/png');
    assert.equal(res.headers.etag, '"abc123"');
    assert.ok(Buffer.from(res.body as Buffer).equals(resultBytes));
    const nm = await request(api.url).get(`/jobs/${body.id}/result`).set('If-None-Match', '"abc123"');
    assert.equal(nm.status, 304);
    const head = await request(api.url).head(`/jobs/${body.id}/result`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(resultBytes.length));
    // result bytes gone → 404
    await redis.del(keys.result(body.id));
    assertProblem(await request(api.url).get(`/jobs/${body.id}/result`), 404);
  });

  test('failed: view carries the error code; result is 409 with it', async () => {
    const { body } = await submit('?emoji=alien');
    const r = await poll(body.id);
    assert.equal(r.body.status, 'failed');
    assert.deepEqual(r.body.error, { code: 'corrupt_image', message: 'bad' });
    const res = await request(api.url).get(`/jobs/${body.id}/result`);
    assertProblem(res, 409);
    assert.equal(problem(res).job_status, 'failed');
    assert.deepEqual(problem(res).error, { code: 'corrupt_image', message: 'bad' });
  });

  test('DELETE a running job → 204, hidden at once, flagged cancelled', async () => {
    const { body } = await submit('?emoji=sunglasses');
    for (let i = 0; i < 100; i++) {
      if ((await request(api.url).get(`/jobs/${body.id}`)).body.status === 'active') break;
      await sleep(20);
    }
    const d = await request(api.url).delete(`/jobs/${body.id}`);
    assert.equal(d.status, 204);
    assertProblem(await request(api.url).get(`/jobs/${body.id}`), 404);
    const ttl = await redis.ttl(keys.cancelled(body.id));
    assert.ok(ttl > 0 && ttl <= config.RESULT_TTL_SECONDS, `cancelled TTL ${ttl}`);
    assert.equal(await redis.exists(keys.input(body.id)), 0);
  });

  test('/turdify/ answers a failed job with the status its error code calls for', async () => {
    // What a client should see for each way a job can fail (the image's fault: 4xx; ours: 5xx).
    const expected: Record<JobErrorCode, number> = {
      corrupt_image: 422,
      unsupported_image: 415,
      too_large: 413,
      input_expired: 410,
      cancelled: 410,
      unknown_emoji: 500,
      internal: 500,
      storage_full: 503,
      timeout: 504,
    };
    const patient = await readyDeps({ ...config, SYNC_TIMEOUT_SECONDS: 60 }, log);
    try {
      const app = createApp(patient.deps);
      await Promise.all(
        JOB_ERROR_CODES.map(async (code) => {
          const width = [...failByWidth].find(([, c]) => c === code)![0];
          const png = await sharp({ create: { width, height: 8, channels: 3, background: 'grey' } })
            .png()
            .toBuffer();
          const r = await request(app).post('/turdify/').attach('my_file', png, 'a.png');
          assertProblem(r, expected[code]);
          const p = problem(r);
          assert.equal(p.type, `/problems/${code.replace(/_/g, '-')}`, code);
          assert.equal(p.code, code);
          // What POST /jobs and polling would show for the same job.
          assert.deepEqual(p.error, { code, message: `failed with ${code}` });
          assert.match(String(p.job_id), UUID);
          const polled = await request(app).get(`/jobs/${String(p.job_id)}`);
          assert.deepEqual(polled.body.error, p.error);
        }),
      );
    } finally {
      await patient.close();
    }
  });

  test('/turdify/ answers the PNG when the job completes', async () => {
    const r = await request(api.url).post('/turdify').attach('my_file', jpeg, 'face.jpg').buffer(true);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['content-type'], 'image/png');
    assert.match(String(r.headers['x-turdify-job-id']), UUID);
  });
});

describe('Redis outage', () => {
  test('503 + Retry-After while Redis is down, recovery after', { skip: needsPrivateRedis }, async () => {
    const { body } = await submit();
    await redisServer.stop();
    try {
      await sleep(200);
      const p = await submit();
      assertProblem(p, 503);
      assert.equal(p.headers['retry-after'], '5');
      const g = await request(api.url).get(`/jobs/${body.id}`);
      assertProblem(g, 503);
      assert.ok(g.headers['retry-after']);
      const rz = await request(api.url).get('/readyz');
      assertProblem(rz, 503);
      assert.ok(rz.headers['retry-after']);
      assert.equal((await request(api.url).get('/healthz')).status, 200);
    } finally {
      await redisServer.start();
    }
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = (await request(api.url).get('/readyz')).status === 200;
      if (!ok) await sleep(100);
    }
    assert.ok(ok, 'readyz did not recover');
    const again = await submit();
    assert.equal(again.status, 202, again.text);
  });

  test('a job posted the moment startApi resolves is taken (the API waited for its Redis)', async () => {
    const fresh = await startApi(config, log);
    try {
      const r = await request(fresh.url).post('/jobs').attach('image', jpeg, 'face.jpg');
      assert.equal(r.status, 202, r.text);
    } finally {
      await fresh.close();
    }
  });
});
