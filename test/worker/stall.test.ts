// A deliberately slow model must not get its job declared stalled and run twice. The worker runs
// inference in a thread, so BullMQ's lock renewal keeps going on the main thread; the same slowness
// on the main thread (the contrast case) does lose the lock, which shows the test can tell.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../shared/config.js';
import { RedisImageStore } from '../../shared/imageStore.js';
import { newJobId, type TurdifyJobData } from '../../shared/jobs.js';
import { QUEUE_NAME, redisKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { openQueue, type TurdifyQueue } from '../../shared/queue.js';
import { createRedis } from '../../shared/redis.js';
import type { FaceDetector } from '../../worker/detectors/index.js';
import { startDetectorThread } from '../../worker/detectorThread.js';
import { startWorker } from '../../worker/worker.js';
import { repoRoot } from '../helpers/fixtures.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

/** Lock 1 s (renewed every 0.5 s), stalled check every 0.5 s; the model takes 3 s. */
const LOCK_MS = 1000;
const SLOW_MS = 3000;
const log = createLogger('stall-test', 'silent');
const photo = readFileSync(join(repoRoot, 'docs/img/astronaut-before.jpg'));

function busy(ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a model that hogs the thread it runs on
  }
}

describe('a slow model and the job lock', () => {
  let server: TestRedis;
  let config: Config;
  let redis: Redis;
  let queueRedis: Redis;
  let eventsRedis: Redis;
  let queue: TurdifyQueue;
  let events: QueueEvents;

  before(async () => {
    server = await startTestRedis();
    config = loadConfig({
      REDIS_URL: server.url,
      KEY_PREFIX: server.prefix,
      WORKER_LOCK_MS: String(LOCK_MS),
      WORKER_STALLED_INTERVAL_MS: '500',
      WORKER_MAX_STALLED_COUNT: '1',
      JOB_ATTEMPTS: '1',
    });
    redis = createRedis(server.url, 'blocking');
    queueRedis = createRedis(server.url, 'blocking');
    eventsRedis = createRedis(server.url, 'blocking');
    queue = openQueue(config, queueRedis);
    events = new QueueEvents(QUEUE_NAME, { connection: eventsRedis, prefix: config.KEY_PREFIX });
    await events.waitUntilReady();
  });

  after(async () => {
    await events.close();
    await queue.close();
    for (const c of [redis, queueRedis, eventsRedis]) c.disconnect();
    await server.close();
  });

  /** Runs one job on a worker using `detector`; returns the job as it ended and the stalled events. */
  async function runOne(detector: FaceDetector) {
    const running = await startWorker({ config, log, renderEmoji, detector });
    const stalled: string[] = [];
    const onStalled = ({ jobId }: { jobId: string }) => stalled.push(jobId);
    events.on('stalled', onStalled);
    try {
      const id = newJobId();
      await new RedisImageStore(redis, redisKeys(config.KEY_PREFIX), {
        inputSeconds: 60,
        resultSeconds: 60,
      }).putInput(id, photo);
      const data: TurdifyJobData = {
        v: 1,
        options: { emoji: 'poop', format: 'jpeg', minConfidence: 0.5 },
        input: { format: 'jpeg', bytes: photo.length, width: 320, height: 320 },
        submittedAt: Date.now(),
      };
      const job = await queue.add('turdify', data, { jobId: id });
      await job.waitUntilFinished(events, 30_000).catch(() => {});
      return { job: (await queue.getJob(id))!, stalled: stalled.filter((s) => s === id) };
    } finally {
      events.off('stalled', onStalled);
      await running.close();
    }
  }

  it('in the inference thread: completed once, never stalled', async () => {
    const detector = await startDetectorThread(
      { detector: 'retinaface', backend: 'auto', tinyInputSize: 416, logLevel: 'silent', busyMs: SLOW_MS },
      log,
    );
    try {
      const { job, stalled } = await runOne(detector);
      assert.equal(await job.getState(), 'completed');
      assert.equal(job.attemptsStarted, 1, 'started once');
      assert.equal(job.stalledCounter, 0);
      assert.deepEqual(stalled, []);
      assert.equal(job.returnvalue.faces.length, 1);
    } finally {
      await detector.close();
    }
  });

  it('on the main thread (contrast): the lock lapses and the job is declared stalled', async () => {
    const real = await sharedDetector();
    const slow: FaceDetector = {
      name: real.name,
      backend: real.backend,
      weights: real.weights,
      maxSide: real.maxSide,
      liveTensors: () => real.liveTensors(),
      detect: (img, c) => {
        busy(SLOW_MS);
        return real.detect(img, c);
      },
    };
    const { job, stalled } = await runOne(slow);
    const clean = (await job.getState()) === 'completed' && job.attemptsStarted === 1 && stalled.length === 0;
    assert.ok(!clean, 'a main-thread model this slow should have lost the lock');
  });
});
