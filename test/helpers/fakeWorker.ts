// A BullMQ Worker inside the test that plays the worker's part without a model: it completes every
// job at once with a small fake result, so API tests can reach results and end events quickly.
import { Worker, type Job } from 'bullmq';
import type { Config } from '../../shared/config.js';
import { RedisImageStore } from '../../shared/imageStore.js';
import type { TurdifyJobData, TurdifyJobResult } from '../../shared/jobs.js';
import { QUEUE_NAME, redisKeys } from '../../shared/keys.js';
import { createRedis } from '../../shared/redis.js';

export const FAKE_RESULT = Buffer.from('\x89PNG fake result bytes');

/** What the fake worker returns for a job: one face, FAKE_RESULT's size, the input's dimensions. */
export function fakeResult(job: Job<TurdifyJobData>): TurdifyJobResult {
  return {
    faces: [{ x: 1, y: 2, width: 3, height: 4, score: 0.9 }],
    result: {
      format: 'png',
      contentType: 'image/png',
      bytes: FAKE_RESULT.length,
      width: job.data.input.width,
      height: job.data.input.height,
      etag: '"abc123"',
    },
    timings: { total: 5 },
    backend: 'test',
    detector: 'test',
    worker: { host: 'here', pid: process.pid },
  };
}

export async function startFakeWorker(config: Config): Promise<{ close(): Promise<void> }> {
  const client = createRedis(config.REDIS_URL, 'client');
  const blocking = createRedis(config.REDIS_URL, 'blocking');
  const store = new RedisImageStore(client, redisKeys(config.KEY_PREFIX), {
    inputSeconds: 60,
    resultSeconds: 60,
  });
  const worker = new Worker<TurdifyJobData, TurdifyJobResult>(
    QUEUE_NAME,
    async (job) => {
      await store.putResult(job.id!, FAKE_RESULT);
      await store.deleteInput(job.id!);
      return fakeResult(job);
    },
    { connection: blocking, prefix: config.KEY_PREFIX, concurrency: 4 },
  );
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close();
      client.disconnect();
      blocking.disconnect();
    },
  };
}
