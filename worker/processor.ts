// The BullMQ processor: fetch the upload, run the pipeline, store the result, delete the upload,
// and classify failures — the image's fault is final, anything else is retried with backoff.
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { formatFailure, JobFailure } from '../shared/errors.js';
import type { ImageStore } from '../shared/imageStore.js';
import type { TurdifyJobData, TurdifyJobResult } from '../shared/jobs.js';
import type { RedisKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { isRedisOom } from '../shared/redis.js';
import { enqueueWebhook, webhookEvent, type WebhookQueue } from '../shared/webhooks.js';
import type { RenderEmoji } from './covers/index.js';
import type { FaceDetector } from './detectors/types.js';
import type { ComputeGate } from './computeGate.js';
import { processImage } from './pipeline.js';

export interface ProcessorDeps {
  store: ImageStore;
  detector: FaceDetector;
  renderEmoji: RenderEmoji;
  redis: Redis;
  keys: RedisKeys;
  config: Config;
  log: Logger;
  webhooks: WebhookQueue;
  /** Bounds the pipeline runs when BullMQ holds prefetched jobs (worker.ts); none: unbounded. */
  gate?: ComputeGate;
}

export type TurdifyJob = Job<TurdifyJobData, TurdifyJobResult>;

const etagOf = (bytes: Buffer) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 32)}"`;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new JobFailure('timeout', `the job took longer than ${ms / 1000} s`)),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Any error → what BullMQ should do with it: UnrecoverableError (final) or Error (retried). */
export function classify(err: unknown): Error {
  if (err instanceof JobFailure && !err.retryable)
    return new UnrecoverableError(formatFailure(err.code, err.message));
  if (err instanceof Error && err.name === 'UnknownEmojiError') {
    return new UnrecoverableError(formatFailure('unknown_emoji', err.message));
  }
  const message = err instanceof Error ? err.message : String(err);
  return new Error(formatFailure(err instanceof JobFailure ? err.code : 'internal', message));
}

/** Result writes refused by a full Redis are tried again this often within the attempt. */
export const RESULT_WRITE_RETRIES = 3;

/**
 * Stores the result, waiting out a full Redis (OOM) with backoff (JOB_BACKOFF_MS, doubling) rather
 * than throwing the detection away at once; still full after the retries, a retryable storage_full:
 * BullMQ tries the job again after its own backoff, and fails it with that code after JOB_ATTEMPTS.
 */
async function putResultPatiently(
  deps: Pick<ProcessorDeps, 'store' | 'config' | 'log'>,
  id: string,
  bytes: Buffer,
): Promise<void> {
  for (let retry = 0; ; retry++) {
    try {
      return await deps.store.putResult(id, bytes);
    } catch (err) {
      if (!isRedisOom(err)) throw err;
      if (retry >= RESULT_WRITE_RETRIES) {
        throw new JobFailure(
          'storage_full',
          `Redis refused the result (${bytes.length} bytes) for want of memory, ${retry + 1} times`,
          true,
        );
      }
      deps.log.warn(
        { job: id, bytes: bytes.length, retry: retry + 1 },
        'result refused: Redis is full; retrying',
      );
      await sleep(deps.config.JOB_BACKOFF_MS * 2 ** retry);
    }
  }
}

export function createProcessor(deps: ProcessorDeps): (job: TurdifyJob) => Promise<TurdifyJobResult> {
  const { store, detector, redis, keys, config, log } = deps;
  const pipelineDeps = { detector, renderEmoji: deps.renderEmoji, maxPixels: config.MAX_PIXELS };
  const gate = deps.gate ?? { run: <T>(work: () => Promise<T>) => work() };
  const cancelled = async (id: string) => {
    if (await redis.exists(keys.cancelled(id))) throw new JobFailure('cancelled', 'the job was deleted');
  };

  const notify = async (
    job: TurdifyJob,
    outcome: { result: TurdifyJobResult } | { failedReason: string },
  ) => {
    if (!job.data.callbackUrl) return;
    await enqueueWebhook(
      deps.webhooks,
      job.id!,
      job.data.callbackUrl,
      webhookEvent(job.id!, job.data, outcome),
    );
  };

  return async (job) => {
    const id = job.id!;
    const started = performance.now();
    try {
      // Concurrent commands share one round trip (ioredis pipelines them on the connection).
      const [, input] = await Promise.all([cancelled(id), store.getInput(id)]);
      if (!input)
        throw new JobFailure('input_expired', 'the upload expired before a worker could process it');
      // Progress is news, not a step of the work: sent without waiting, in order on one connection.
      // Two per job (started, detected): each is a script and an event every API parses; the end is
      // BullMQ's own "completed" (a completed job reads as 100 %).
      const progress = (percent: number) => {
        job.updateProgress(percent).catch(() => {});
      };
      // A prefetched job waits here with its upload read; JOB_TIMEOUT counts from its start.
      const out = await gate.run(() => {
        progress(5);
        return withTimeout(
          processImage(input, { ...job.data.options, seed: id }, pipelineDeps, (stage, percent) => {
            if (stage === 'detected') progress(percent);
          }),
          config.JOB_TIMEOUT_SECONDS * 1000,
        );
      });
      const [check, put] = await Promise.allSettled([
        cancelled(id),
        putResultPatiently(deps, id, out.output),
      ]);
      if (check.status === 'rejected') {
        // Deleted while it ran: no result may outlive the job (removed once the write has settled).
        if (check.reason instanceof JobFailure) await store.deleteAll(id).catch(() => {});
        throw check.reason;
      }
      if (put.status === 'rejected') throw put.reason;
      // The upload is deleted once BullMQ has recorded the completion (worker.ts, "completed"): if
      // this attempt loses its lock (Redis outage, long pause), the attempt that recovers the job
      // still finds it. Until then it is bounded by INPUT_TTL_SECONDS like any upload.
      const timings = { ...out.timings, total: Math.round(performance.now() - started) };
      log.info({ job: id, faces: out.faces.length, timings }, 'job done');
      const result: TurdifyJobResult = {
        faces: out.faces,
        result: {
          format: out.format,
          contentType: out.contentType,
          bytes: out.output.length,
          width: out.width,
          height: out.height,
          etag: etagOf(out.output),
        },
        timings,
        backend: detector.backend,
        detector: detector.name,
        worker: { host: hostname(), pid: process.pid },
      };
      // Enqueued before BullMQ marks the job completed, so a crash in between cannot lose the event
      // (the retried job enqueues it again under the same id); the delivery waits for the end.
      await notify(job, { result });
      return result;
    } catch (err) {
      const verdict = classify(err);
      const final = verdict instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      // Inputs are personal data: once no attempt will read the upload again, drop it.
      if (final) await store.deleteInput(id).catch(() => {});
      // If this enqueue fails, the worker's "failed" handler enqueues it again.
      if (final) await notify(job, { failedReason: verdict.message }).catch(() => {});
      log.warn({ job: id, final, err: verdict.message }, 'job failed');
      throw verdict;
    }
  };
}
