// The worker against a real private Redis: failures are classified, the worker survives bad
// input, and everything it writes expires.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { loadConfig, type Config } from '../../shared/config.js';
import { parseFailure } from '../../shared/errors.js';
import { RedisImageStore } from '../../shared/imageStore.js';
import { newJobId, type TurdifyJobData } from '../../shared/jobs.js';
import { QUEUE_NAME, redisKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { openQueue, type TurdifyQueue } from '../../shared/queue.js';
import { createRedis } from '../../shared/redis.js';
import { startWorker, type RunningWorker } from '../../worker/worker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { hevcHeic } from '../helpers/images.js';
import { prefixedKeys, startTestRedis, type TestRedis } from '../helpers/redis.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

describe('worker with a real Redis', () => {
  let server: TestRedis;
  let config: Config;
  let redis: Redis;
  let queue: TurdifyQueue;
  let events: QueueEvents;
  const connections: Redis[] = [];
  const connect = () => {
    const c = createRedis(server.url, 'blocking');
    connections.push(c);
    return c;
  };
  let running: RunningWorker;
  let keys: ReturnType<typeof redisKeys>;

  before(async () => {
    server = await startTestRedis();
    config = loadConfig({
      REDIS_URL: server.url,
      KEY_PREFIX: server.prefix,
      JOB_ATTEMPTS: '3',
      JOB_BACKOFF_MS: '10',
      MAX_PIXELS: '1000000',
    });
    keys = redisKeys(config.KEY_PREFIX);
    redis = createRedis(server.url, 'blocking');
    queue = openQueue(config, connect());
    events = new QueueEvents(QUEUE_NAME, {
      connection: connect(),
      prefix: config.KEY_PREFIX,
    });
    await events.waitUntilReady();
    running = await startWorker({
      config,
      log: createLogger('test', 'silent'),
      renderEmoji,
      detector: await sharedDetector(),
    });
  });

  after(async () => {
    await running.close();
    await events.close();
    await queue.close();
    redis.disconnect();
    for (const c of connections) c.disconnect();
    await server.close();
  });

  const store = () => new RedisImageStore(redis, keys, { inputSeconds: 60, resultSeconds: 60 });
  async function submit(bytes: Buffer | null): Promise<string> {
    const id = newJobId();
    if (bytes) await store().putInput(id, bytes);
    const data: TurdifyJobData = {
      v: 1,
      options: { emoji: 'poop', format: 'jpeg', minConfidence: 0.5 },
      input: { format: 'jpeg', bytes: bytes?.length ?? 0, width: 1, height: 1 },
      submittedAt: Date.now(),
    };
    await queue.add('turdify', data, { jobId: id });
    return id;
  }
  async function outcome(id: string) {
    const job = (await queue.getJob(id))!;
    try {
      await job.waitUntilFinished(events, 60_000);
    } catch {
      // failed: inspected below
    }
    return (await queue.getJob(id))!;
  }

  it('fails a corrupt image once, without retries, and goes on to the next job', async () => {
    const good = readFileSync(join(fixturesDir, 'fddb_2002_08_09_img_579.jpg'));
    const bad = await submit(good.subarray(0, 4000));
    const next = await submit(good);
    const badJob = await outcome(bad);
    assert.equal(await badJob.getState(), 'failed');
    assert.equal(badJob.attemptsMade, 1);
    assert.equal(parseFailure(badJob.failedReason).code, 'corrupt_image');
    assert.equal(await redis.exists(keys.input(bad)), 0, 'a failed upload is deleted too');
    const nextJob = await outcome(next);
    assert.equal(await nextJob.getState(), 'completed');
    assert.equal(nextJob.returnvalue.faces.length, 1);
  });

  it('fails, once, with too_large past MAX_PIXELS and unsupported_image for a codec it lacks', async () => {
    const big = await sharp(join(fixturesDir, 'fddb_2002_08_09_img_579.jpg'))
      .resize(1200, 1000)
      .jpeg()
      .toBuffer();
    const heic = await hevcHeic(join(fixturesDir, 'astronaut.png'));
    for (const [bytes, code] of [
      [big, 'too_large'],
      [heic, 'unsupported_image'],
    ] as const) {
      const job = await outcome(await submit(bytes));
      assert.equal(await job.getState(), 'failed');
      assert.equal(parseFailure(job.failedReason).code, code);
      assert.equal(job.attemptsMade, 1, `${code} is not retried`);
    }
  });

  it('fails with input_expired when the upload is gone', async () => {
    const job = await outcome(await submit(null));
    assert.equal(parseFailure(job.failedReason).code, 'input_expired');
  });

  it('deletes the input, stores the result and sets TTLs on everything', async () => {
    const id = await submit(readFileSync(join(fixturesDir, 'dlib_voc_2008_001009.jpg')));
    const job = await outcome(id);
    assert.equal(await job.getState(), 'completed');
    const result = await redis.getBuffer(keys.result(id));
    assert.equal(result?.length, job.returnvalue.result.bytes);
    assert.ok((await redis.ttl(keys.result(id))) > 0);
    // Just after BullMQ records the completion, the upload goes and the job record gets its TTL.
    for (let i = 0; (await redis.pttl(keys.bullJob(id))) < 0 || (await redis.exists(keys.input(id))); i++) {
      assert.ok(i < 50, 'upload still there, or job hash without a TTL');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('lists itself in the fleet registry', async () => {
    const [entry] = await prefixedKeys(redis, config.KEY_PREFIX, 'worker:*');
    assert.ok(entry);
    assert.equal(await redis.hget(entry, 'backend'), running.detector.backend);
    assert.ok((await redis.ttl(entry)) > 0);
  });
});
