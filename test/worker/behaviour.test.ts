// What the README promises of a job's life in the worker, end to end through the API on a real
// Redis, with the real model behind a detector the test scripts (slow, failing, or waiting for the
// test): the job timeout, retries with backoff and the final `internal`, deleting a running job,
// WORKER_CONCURRENCY > 1, and INFERENCE_THREAD false/true/auto.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { readyDeps } from '../helpers/api.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { parseFailure } from '../../shared/errors.js';
import { QUEUE_NAME, redisKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { openQueue, type TurdifyQueue } from '../../shared/queue.js';
import { createRedis } from '../../shared/redis.js';
import type { Detection, FaceDetector, RgbImage } from '../../worker/detectors/index.js';
import { startWorker, type RunningWorker } from '../../worker/worker.js';
import { repoRoot } from '../helpers/fixtures.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

const log = createLogger('behaviour-test', 'silent');
const photo = readFileSync(join(repoRoot, 'docs/img/astronaut-before.jpg'));

/** The real model, with `step` run before each detection (its argument: the call's number, from 1). */
function scripted(real: FaceDetector, step: (call: number) => Promise<void> | void) {
  let calls = 0;
  const detector: FaceDetector = {
    name: real.name,
    backend: real.backend,
    weights: real.weights,
    maxSide: real.maxSide,
    liveTensors: () => real.liveTensors(),
    detect: async (img: RgbImage, c: number): Promise<Detection[]> => {
      await step(++calls);
      return real.detect(img, c);
    },
  };
  return { detector, calls: () => calls };
}

describe('a job in the worker', () => {
  let server: TestRedis;
  let base: Config;
  let api: { app: Express; close(): Promise<void> };
  let redis: Redis;
  let queue: TurdifyQueue;
  let events: QueueEvents;
  let keys: ReturnType<typeof redisKeys>;
  const connections: Redis[] = [];

  before(async () => {
    server = await startTestRedis();
    base = loadConfig({ REDIS_URL: server.url, KEY_PREFIX: server.prefix, LOG_LEVEL: 'silent' });
    keys = redisKeys(base.KEY_PREFIX);
    const built = await readyDeps(base, log);
    api = { app: createApp(built.deps), close: built.close };
    redis = createRedis(server.url, 'blocking');
    connections.push(createRedis(server.url, 'blocking'), createRedis(server.url, 'blocking'));
    queue = openQueue(base, connections[0]!);
    events = new QueueEvents(QUEUE_NAME, { connection: connections[1]!, prefix: base.KEY_PREFIX });
    await events.waitUntilReady();
  });
  after(async () => {
    await events.close();
    await queue.close();
    await api.close();
    for (const c of [redis, ...connections]) c.disconnect();
    await server.close();
  });

  /** A worker with these settings (over the defaults) and this detector, for the duration of fn. */
  async function withWorker(
    env: Record<string, string>,
    detector: FaceDetector | undefined,
    fn: (w: RunningWorker) => Promise<void>,
  ) {
    const config = loadConfig({
      REDIS_URL: server.url,
      KEY_PREFIX: server.prefix,
      LOG_LEVEL: 'silent',
      ...env,
    });
    const running = await startWorker({ config, log, renderEmoji, ...(detector ? { detector } : {}) });
    try {
      await fn(running);
    } finally {
      await running.close();
    }
  }
  const submit = async () => {
    const r = await request(api.app).post('/jobs').attach('image', photo, 'astronaut.jpg');
    assert.equal(r.status, 202, r.text);
    return r.body.id as string;
  };
  /** The job once it has ended, as the API shows it. */
  const ended = async (id: string) => {
    const r = await request(api.app).get(`/jobs/${id}?wait=60`);
    assert.ok(r.body.status === 'completed' || r.body.status === 'failed', JSON.stringify(r.body));
    return r.body as { status: string; attempts: number; error?: { code: string; message: string } };
  };

  it('fails a job running past JOB_TIMEOUT_SECONDS with timeout, once, and drops its upload', async () => {
    const slow = scripted(await sharedDetector(), () => sleep(3000));
    await withWorker({ JOB_TIMEOUT_SECONDS: '0.5', JOB_ATTEMPTS: '3' }, slow.detector, async () => {
      const id = await submit();
      const job = await ended(id);
      assert.equal(job.status, 'failed');
      assert.equal(job.error?.code, 'timeout');
      assert.match(job.error!.message, /longer than 0.5 s/);
      assert.equal(job.attempts, 1, 'a timeout is final');
      assert.equal(slow.calls(), 1);
      assert.equal(await redis.exists(keys.input(id), keys.result(id)), 0);
    });
  });

  it('retries a failure that is not the image’s fault with backoff, then fails with internal', async () => {
    const failing = scripted(await sharedDetector(), () => {
      throw new Error('the model crashed');
    });
    const delayed: string[] = [];
    const onDelayed = ({ jobId }: { jobId: string }) => delayed.push(jobId);
    events.on('delayed', onDelayed);
    try {
      await withWorker({ JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100' }, failing.detector, async () => {
        const id = await submit();
        const job = await ended(id);
        assert.equal(job.status, 'failed');
        assert.deepEqual(job.error, { code: 'internal', message: 'the model crashed' });
        assert.equal(job.attempts, 3);
        assert.equal(failing.calls(), 3, 'the model ran once per attempt');
        // Each retry waited in BullMQ's delayed set (the backoff) before running again.
        assert.equal(delayed.filter((d) => d === id).length, 2);
        assert.equal(await redis.exists(keys.input(id)), 0, 'the upload goes with the last attempt');
      });
    } finally {
      events.off('delayed', onDelayed);
    }
  });

  it('completes on a retry when the failure was transient, with the upload kept until then', async () => {
    const flaky = scripted(await sharedDetector(), (call) => {
      if (call === 1) throw new Error('a passing hiccup');
    });
    await withWorker({ JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100' }, flaky.detector, async () => {
      const job = await ended(await submit());
      assert.equal(job.status, 'completed', JSON.stringify(job));
      assert.equal(flaky.calls(), 2);
    });
  });

  it('deleting a running job: 404 at once, and the worker discards its result and removes the record', async () => {
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const waiting = scripted(await sharedDetector(), async () => {
      entered();
      await held;
    });
    await withWorker({}, waiting.detector, async () => {
      const id = await submit();
      await inside; // the worker is in the middle of it
      assert.equal((await request(api.app).delete(`/jobs/${id}`)).status, 204);
      assert.equal((await request(api.app).get(`/jobs/${id}`)).status, 404);
      release();
      for (let i = 0; (await redis.exists(keys.bullJob(id))) === 1; i++) {
        assert.ok(i < 600, 'the job record is still there');
        await sleep(50);
      }
      assert.equal(await redis.exists(keys.input(id), keys.result(id)), 0, 'no upload, no result');
      assert.equal((await request(api.app).get(`/jobs/${id}/result`)).status, 404);
      assert.equal(waiting.calls(), 1);
    });
  });

  it('runs WORKER_CONCURRENCY jobs at once in one worker process', async () => {
    let inFlight = 0;
    let most = 0;
    let bothIn!: () => void;
    const together = new Promise<void>((r) => (bothIn = r));
    const counting = scripted(await sharedDetector(), async () => {
      most = Math.max(most, ++inFlight);
      if (inFlight === 2) bothIn();
      // Wait for a second job to be inside too (bounded: with one at a time it never comes).
      await Promise.race([together, sleep(5000)]);
      inFlight--;
    });
    await withWorker({ WORKER_CONCURRENCY: '2' }, counting.detector, async (w) => {
      assert.equal(w.info.concurrency, 2);
      const jobs = await Promise.all([submit(), submit()]);
      for (const id of jobs) assert.equal((await ended(id)).status, 'completed');
      assert.equal(most, 2, 'two detections were running at the same time');
    });
  });

  it('INFERENCE_THREAD=false runs the model in the worker process itself, and jobs complete', async () => {
    await withWorker({ INFERENCE_THREAD: 'false' }, undefined, async (w) => {
      assert.equal(typeof (w.detector as { close?: unknown }).close, 'undefined', 'not a detector thread');
      assert.equal(w.detector.backend, (await sharedDetector()).backend);
      const job = await ended(await submit());
      assert.equal(job.status, 'completed', JSON.stringify(job));
    });
    await withWorker({ INFERENCE_THREAD: 'true' }, undefined, async (w) => {
      assert.equal(typeof (w.detector as { close?: unknown }).close, 'function', 'a detector thread');
      assert.equal((await ended(await submit())).status, 'completed');
    });
  });

  it('INFERENCE_THREAD=auto (the default) runs ONNX Runtime in process and WebAssembly in a thread', async () => {
    await withWorker({}, undefined, async (w) => {
      assert.equal(w.detector.backend, 'onnx');
      assert.equal(typeof (w.detector as { close?: unknown }).close, 'undefined', 'in process');
      assert.equal((await ended(await submit())).status, 'completed');
    });
    await withWorker({ TF_BACKEND: 'wasm' }, undefined, async (w) => {
      assert.equal(w.detector.backend, 'wasm');
      assert.equal(typeof (w.detector as { close?: unknown }).close, 'function', 'a detector thread');
      assert.equal((await ended(await submit())).status, 'completed');
    });
  });

  it('reports each failure the same way to GET /jobs/:id and in BullMQ', async () => {
    const jobs = await queue.getJobs(['failed']);
    assert.ok(jobs.length >= 2);
    for (const j of jobs) {
      const view = (await request(api.app).get(`/jobs/${j.id}`)).body as { error: unknown };
      assert.deepEqual(view.error, parseFailure(j.failedReason));
    }
  });
});
