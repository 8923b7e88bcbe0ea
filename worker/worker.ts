// A worker process's BullMQ glue: the Worker on the job queue, its entry in the fleet registry,
// retention of finished job records, and a graceful close.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import type { Config } from '../shared/config.js';
import { RedisImageStore } from '../shared/imageStore.js';
import type { TurdifyJobData, TurdifyJobResult } from '../shared/jobs.js';
import { QUEUE_NAME, redisKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { failedForGood, openQueue } from '../shared/queue.js';
import { createRedis } from '../shared/redis.js';
import { enqueueWebhook, openWebhookQueue, webhookEvent } from '../shared/webhooks.js';
import { publishWorker, removeWorker, type WorkerInfo } from '../shared/workerRegistry.js';
import { createComputeGate } from './computeGate.js';
import { detectorSpec } from './detectorConfig.js';
import type { FaceDetector } from './detectors/types.js';
import { startDetector, type OwnDetector } from './detectorPlacement.js';
import type { RenderEmoji } from './covers/index.js';
import { createProcessor, type TurdifyJob } from './processor.js';
import { startWebhookWorker } from './webhookWorker.js';

/** Touched on every heartbeat; the container HEALTHCHECK reads its age. */
export const HEARTBEAT_FILE = join(tmpdir(), 'turdify-worker-heartbeat');

export interface RunningWorker {
  worker: Worker<TurdifyJobData, TurdifyJobResult>;
  detector: FaceDetector;
  info: WorkerInfo;
  close(): Promise<void>;
}

export async function startWorker(opts: {
  config: Config;
  log: Logger;
  renderEmoji: RenderEmoji;
  detector?: FaceDetector;
}): Promise<RunningWorker> {
  const { config, log } = opts;
  const keys = redisKeys(config.KEY_PREFIX);
  const spec = detectorSpec(config);
  const detector: OwnDetector = opts.detector ?? (await startDetector(config, spec, log));
  // Store and registry commands wait out a Redis outage instead of failing the job.
  const redis = createRedis(config.REDIS_URL, 'blocking');
  const store = new RedisImageStore(redis, keys, {
    inputSeconds: config.INPUT_TTL_SECONDS,
    resultSeconds: config.RESULT_TTL_SECONDS,
  });
  // Queues this process writes to: deliveries, and (read-only) the job queue, for job states.
  const webhookRedis = createRedis(config.REDIS_URL, 'blocking');
  const webhooks = openWebhookQueue(config, webhookRedis);
  const jobsQueue = openQueue(config, webhookRedis);
  const processor = createProcessor({
    store,
    detector,
    renderEmoji: opts.renderEmoji,
    redis,
    keys,
    config,
    log,
    webhooks,
    gate: createComputeGate(config.WORKER_CONCURRENCY),
  });
  // BullMQ does not close a connection it was given: keep it to disconnect after close().
  const bullRedis = createRedis(config.REDIS_URL, 'blocking');
  const worker = new Worker<TurdifyJobData, TurdifyJobResult>(QUEUE_NAME, processor, {
    connection: bullRedis,
    prefix: config.KEY_PREFIX,
    // The prefetched jobs wait at the processor's gate with their upload read; BullMQ renews
    // their locks like any active job's.
    concurrency: config.WORKER_CONCURRENCY + config.WORKER_PREFETCH,
    // Stored on each job as processedBy: which host and process ran it.
    name: `${hostname()}:${process.pid}`,
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
  });

  const info: WorkerInfo = {
    id: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    host: hostname(),
    pid: process.pid,
    backend: detector.backend,
    detector: detector.name,
    weights: detector.weights.package,
    licence: detector.weights.licence,
    concurrency: config.WORKER_CONCURRENCY,
    jobsDone: 0,
    jobsFailed: 0,
    startedAt: Date.now(),
    lastHeartbeat: Date.now(),
    tensors: detector.liveTensors(),
    rssMB: 0,
  };
  const heartbeat = async () => {
    info.lastHeartbeat = Date.now();
    info.tensors = detector.liveTensors();
    info.rssMB = Math.round(process.memoryUsage.rss() / 2 ** 20);
    try {
      await publishWorker(redis, keys, info, config.WORKER_HEARTBEAT_SECONDS * 3);
      writeFileSync(HEARTBEAT_FILE, String(info.lastHeartbeat));
    } catch (err) {
      log.warn({ err: String(err) }, 'heartbeat failed');
    }
  };
  await heartbeat();
  const timer = setInterval(() => void heartbeat(), config.WORKER_HEARTBEAT_SECONDS * 1000);
  timer.unref();

  // Finished job records carry face boxes: they expire with the result. A job deleted while it ran
  // is removed outright once BullMQ has released it.
  const retire = async (job: TurdifyJob) => {
    const id = job.id!;
    const ttl = Math.ceil(config.RESULT_TTL_SECONDS * 1000);
    // One round trip for the usual case (pipelined on the connection); a deleted job's record is
    // then removed whatever its TTL, and releasing its upload twice is harmless (idempotent).
    const [replies] = await Promise.all([
      redis
        .multi()
        .exists(keys.cancelled(id))
        .pexpire(keys.bullJob(id), ttl)
        .pexpire(keys.bullJobLogs(id), ttl)
        .exec(),
      store.deleteInput(id),
    ]);
    const [err, cancelled] = replies?.[0] ?? [new Error('the transaction was discarded'), 0];
    if (err) throw err;
    if (cancelled) {
      await job.remove();
      await store.deleteAll(id);
    }
  };
  worker.on('completed', (job) => {
    info.jobsDone++;
    retire(job).catch((err) => log.warn({ job: job.id, err: String(err) }, 'could not retire job'));
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    if (!failedForGood(job, err)) return;
    info.jobsFailed++;
    // A job failed without its processor finishing (stalled too often) has not enqueued its event.
    if (job.data.callbackUrl) {
      const event = webhookEvent(job.id!, job.data, { failedReason: err.message });
      enqueueWebhook(webhooks, job.id!, job.data.callbackUrl, event).catch((e) =>
        log.warn({ job: job.id, err: String(e) }, 'could not enqueue webhook'),
      );
    }
    retire(job).catch((e) => log.warn({ job: job.id, err: String(e) }, 'could not retire job'));
  });
  worker.on('error', (err) => log.error({ err: String(err) }, 'worker error'));
  const deliveries = startWebhookWorker({ config, log, redis, keys, jobs: jobsQueue });
  await Promise.all([worker.waitUntilReady(), deliveries.worker.waitUntilReady()]);

  return {
    worker,
    detector,
    info,
    async close() {
      clearInterval(timer);
      await worker.close(); // waits for the active job to finish
      await deliveries.close();
      if (!opts.detector) await detector.close?.();
      await webhooks.close();
      await jobsQueue.close();
      webhookRedis.disconnect();
      await removeWorker(redis, keys, info.id).catch(() => {});
      redis.disconnect();
      bullRedis.disconnect();
    },
  };
}
