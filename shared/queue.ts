// The job queue: its name, its default job options, and how to open it. Both the API (to add and
// read jobs) and the workers open it through here so the settings cannot drift apart.
import { Queue, type ConnectionOptions, type DefaultJobOptions, type Job } from 'bullmq';
import type { Config } from './config.js';
import type { TurdifyJobData, TurdifyJobResult } from './jobs.js';
import { QUEUE_NAME } from './keys.js';

export type TurdifyQueue = Queue<TurdifyJobData, TurdifyJobResult, 'turdify'>;

export function defaultJobOptions(config: Config): DefaultJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    // Finished job records carry face boxes: keep them no longer than the result image.
    removeOnComplete: { age: Math.ceil(config.RESULT_TTL_SECONDS) },
    removeOnFail: { age: Math.ceil(config.RESULT_TTL_SECONDS) },
  };
}

export function openQueue(config: Config, connection: ConnectionOptions): TurdifyQueue {
  return new Queue<TurdifyJobData, TurdifyJobResult, 'turdify'>(QUEUE_NAME, {
    connection,
    prefix: config.KEY_PREFIX,
    defaultJobOptions: defaultJobOptions(config),
    // The events stream holds job ids and return values: keep it short.
    streams: { events: { maxLen: 1000 } },
  });
}

/** In a Worker's "failed" handler: BullMQ will not run this job again (its last attempt, or final). */
export const failedForGood = (job: Job, err: Error): boolean =>
  err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
