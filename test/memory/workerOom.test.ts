// A worker under a full Redis (maxmemory reached, noeviction): a result write Redis refuses is
// retried with backoff, then failed with storage_full, never half-done; and a job caught by it
// through BullMQ still completes with its result once memory is free again. Real Redis refusals
// (filled with throw-away values), real detector.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../shared/config.js';
import { parseFailure } from '../../shared/errors.js';
import { RedisImageStore, type ImageStore } from '../../shared/imageStore.js';
import { newJobId, type TurdifyJobData } from '../../shared/jobs.js';
import { redisKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { openQueue } from '../../shared/queue.js';
import { createRedis } from '../../shared/redis.js';
import type { WebhookQueue } from '../../shared/webhooks.js';
import type { FaceDetector } from '../../worker/detectors/index.js';
import { createProcessor, RESULT_WRITE_RETRIES, type TurdifyJob } from '../../worker/processor.js';
import { startWorker } from '../../worker/worker.js';
import { until } from '../helpers/cluster.js';
import { fixturesDir } from '../helpers/fixtures.js';
import {
  needsPrivateRedis,
  oomRefusals,
  squeezeRedis,
  startTestRedis,
  type TestRedis,
} from '../helpers/redis.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

const photo = readFileSync(join(fixturesDir, 'dlib_voc_2008_001009.jpg'));

/** Log lines as parsed JSON, for what the worker said. */
function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('oom-test', 'info', {
    write: (s: string) => {
      lines.push(JSON.parse(s) as Record<string, unknown>);
    },
  });
  return { log, lines, said: (msg: string) => lines.filter((l) => l.msg === msg) };
}

describe('a worker under a full Redis', { skip: needsPrivateRedis }, () => {
  let server: TestRedis;
  let redis: Redis;
  let config: Config;
  const keys = redisKeys('turdify');
  let store: RedisImageStore;
  let detector: FaceDetector;

  before(async () => {
    server = await startTestRedis({ args: ['--maxmemory', '32mb'] });
    config = loadConfig({
      REDIS_URL: server.url,
      JOB_BACKOFF_MS: '20',
      JOB_ATTEMPTS: '3',
      WORKER_LOCK_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '500',
    });
    redis = createRedis(server.url, 'blocking');
    store = new RedisImageStore(redis, keys, { inputSeconds: 600, resultSeconds: 600 });
    detector = await sharedDetector();
  });
  after(async () => {
    redis.disconnect();
    await server.close();
  });

  const data: TurdifyJobData = {
    v: 1,
    options: { emoji: 'poop', format: 'jpeg', minConfidence: 0.5 },
    input: { format: 'jpeg', bytes: photo.length, width: 500, height: 375 },
    submittedAt: Date.now(),
  };
  /** The BullMQ job as the processor sees it, on its attempt number `attempt` (1-based). */
  const fakeJob = (id: string, attempt: number) =>
    ({
      id,
      data,
      attemptsMade: attempt - 1,
      opts: { attempts: config.JOB_ATTEMPTS },
      updateProgress: async () => {},
    }) as unknown as TurdifyJob;
  const processorWith = (s: ImageStore, log = captureLog().log) =>
    createProcessor({
      store: s,
      detector,
      renderEmoji,
      redis,
      keys,
      config,
      log,
      webhooks: {} as WebhookQueue,
    });

  it('waits out a full Redis with backoff, then stores the result', async () => {
    const id = newJobId();
    await store.putInput(id, photo, 100_000);
    const refusedBefore = await oomRefusals(redis);
    let full: Awaited<ReturnType<typeof squeezeRedis>> | undefined;
    let writes = 0;
    // Redis is full at the first result write, and has room again at the second.
    const filling: ImageStore = Object.assign(Object.create(store) as ImageStore, {
      putResult: async (jobId: string, bytes: Buffer) => {
        writes++;
        if (writes === 1) full = await squeezeRedis(redis);
        else await full?.restore();
        return store.putResult(jobId, bytes);
      },
    });
    const { log, said } = captureLog();
    const result = await processorWith(filling, log)(fakeJob(id, 1)).finally(() => full?.restore());
    assert.equal(writes, 2);
    assert.ok((await oomRefusals(redis)) > refusedBefore, 'Redis really refused the first write');
    assert.equal(said('result refused: Redis is full; retrying').length, 1);
    assert.equal((await redis.getBuffer(keys.result(id)))?.length, result.result.bytes);
    await store.deleteAll(id);
  });

  it('still full: fails the attempt with a retryable storage_full, keeping the upload and writing nothing', async () => {
    const id = newJobId();
    await store.putInput(id, photo, 100_000);
    const full = await squeezeRedis(redis);
    try {
      const { log, said } = captureLog();
      const err = await processorWith(
        store,
        log,
      )(fakeJob(id, 1)).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      assert.ok(err && !(err instanceof UnrecoverableError), 'BullMQ may retry it');
      assert.equal(parseFailure(err.message).code, 'storage_full');
      assert.equal(said('result refused: Redis is full; retrying').length, RESULT_WRITE_RETRIES);
      assert.equal(await redis.exists(keys.result(id)), 0, 'no result');
      assert.equal(await redis.exists(keys.input(id)), 1, 'the upload waits for the next attempt');
      assert.equal((await store.usage()).queuedJobs, 1);

      // Its last attempt: failed for good with that code, and the upload released even in a full Redis.
      const last = await processorWith(store)(fakeJob(id, config.JOB_ATTEMPTS)).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      assert.equal(parseFailure(last?.message).code, 'storage_full');
      assert.equal(await redis.exists(keys.input(id)), 0);
      assert.equal((await store.usage()).queuedBytes, 0);
    } finally {
      await full.restore();
    }
  });

  it('a job whose result Redis refused completes with it once memory is free (nothing lost)', async () => {
    const queueRedis = createRedis(server.url, 'blocking');
    const queue = openQueue(config, queueRedis);
    let full: Awaited<ReturnType<typeof squeezeRedis>> | undefined;
    // Redis fills up while the first detection runs, after the worker took the job.
    const filling: FaceDetector = Object.assign(Object.create(detector) as FaceDetector, {
      detect: async (...args: Parameters<FaceDetector['detect']>) => {
        const faces = await detector.detect(...args);
        full ??= await squeezeRedis(redis);
        return faces;
      },
    });
    const { log, said } = captureLog();
    const running = await startWorker({ config, log, renderEmoji, detector: filling });
    try {
      const id = newJobId();
      await store.putInput(id, photo, 100_000);
      await queue.add('turdify', data, { jobId: id });
      await until(
        'the result write to be refused, retries and all',
        async () => said('job failed').length > 0,
        60_000,
      );
      assert.equal(await redis.exists(keys.result(id)), 0);
      await full?.restore();
      await until('the job to complete', async () => (await queue.getJobState(id)) === 'completed', 60_000);
      const job = (await queue.getJob(id))!;
      assert.equal((await redis.getBuffer(keys.result(id)))?.length, job.returnvalue.result.bytes);
      await until('its upload to be released', async () => (await store.usage()).queuedBytes === 0, 10_000);
    } finally {
      await running.close();
      await queue.close();
      queueRedis.disconnect();
    }
  });
});
