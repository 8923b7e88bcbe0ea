// Delivers webhook events from their own queue: signed per Standard Webhooks, retried on the
// configured schedule, stopped by 410 Gone, and recorded on the job for GET /jobs/:id.
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { CallbackRefused, policyFromConfig } from '../shared/callbackPolicy.js';
import type { Config } from '../shared/config.js';
import { WEBHOOK_QUEUE_NAME, type RedisKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { failedForGood, type TurdifyQueue } from '../shared/queue.js';
import { createRedis } from '../shared/redis.js';
import { webhookMessageId, writeDelivery, type WebhookJobData } from '../shared/webhooks.js';
import { postWebhook } from './webhookSender.js';

/** Job states in which the job may still end differently: its event waits for the real end. */
const NOT_ENDED = new Set(['active', 'waiting', 'wait', 'delayed', 'prioritized', 'waiting-children']);
const HOLD_MS = 250;

export interface WebhookWorkerDeps {
  config: Config;
  log: Logger;
  redis: Redis;
  keys: RedisKeys;
  jobs: TurdifyQueue;
}

export function startWebhookWorker(deps: WebhookWorkerDeps) {
  const { config, log, redis, keys, jobs } = deps;
  const schedule = config.WEBHOOK_RETRY_SCHEDULE;
  const attempts = schedule.length + 1;
  const policy = policyFromConfig(config);
  const signer = config.WEBHOOK_SECRET ? new Webhook(config.WEBHOOK_SECRET) : null;
  // Records outlive the last retry, and at least the result.
  const recordTtl = Math.max(
    config.RESULT_TTL_SECONDS * 1000,
    schedule.reduce((a, b) => a + b, 0) + 3_600_000,
  );

  const processor = async (job: Job<WebhookJobData, { status: number }>, token?: string) => {
    const { jobId, url, event } = job.data;
    // The event is enqueued just before the job is marked ended: wait for that, so a receiver that
    // fetches the result at once finds it.
    if (NOT_ENDED.has(await jobs.getJobState(jobId))) {
      await job.moveToDelayed(Date.now() + HOLD_MS, token);
      throw new DelayedError();
    }
    // Deleted by its owner while it ran: nobody is to be told about it any more.
    if (await redis.exists(keys.cancelled(jobId))) return { status: 0 };
    if (!signer) throw new UnrecoverableError('WEBHOOK_SECRET is not set on this worker');
    const attempt = job.attemptsMade + 1;
    const now = new Date();
    const body = JSON.stringify(event);
    const msgId = webhookMessageId(jobId);
    const headers = {
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signer.sign(msgId, now, body),
    };
    const nextAt = attempt < attempts ? new Date(Date.now() + schedule[attempt - 1]!).toISOString() : null;
    const record = (fields: Parameters<typeof writeDelivery>[3]) =>
      writeDelivery(
        redis,
        keys,
        jobId,
        { attempts: attempt, last_attempt_at: now.toISOString(), ...fields },
        recordTtl,
      );
    /** Records a failed attempt; a final one (refused, 410, schedule used up) is not retried. */
    const failure = async (message: string, lastStatus: number | null, stop: boolean) => {
      const final = stop || !nextAt;
      await record({
        state: final ? 'failed' : 'pending',
        last_status: lastStatus,
        last_error: message,
        next_attempt_at: final ? null : nextAt,
      });
      log.warn({ job: jobId, attempt, status: lastStatus, err: message, final }, 'webhook attempt failed');
      return stop ? new UnrecoverableError(message) : new Error(message);
    };
    let status: number;
    try {
      ({ status } = await postWebhook(new URL(url), body, headers, {
        timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
        policy,
        userAgent: 'Turdify-Webhooks/1',
      }));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw await failure(message, null, err instanceof CallbackRefused);
    }
    if (status >= 200 && status < 300) {
      await record({
        state: 'delivered',
        last_status: status,
        last_error: null,
        next_attempt_at: null,
        delivered_at: now.toISOString(),
      });
      log.info({ job: jobId, attempt, status }, 'webhook delivered');
      return { status };
    }
    if (status === 410) throw await failure('the receiver answered 410 Gone: no more attempts', 410, true);
    throw await failure(`the receiver answered ${status}`, status, false);
  };

  const bullRedis = createRedis(config.REDIS_URL, 'blocking');
  const worker = new Worker<WebhookJobData, { status: number }>(WEBHOOK_QUEUE_NAME, processor, {
    connection: bullRedis,
    prefix: config.KEY_PREFIX,
    concurrency: config.WEBHOOK_CONCURRENCY,
    settings: {
      backoffStrategy: (attemptsMade: number) => schedule[Math.max(0, attemptsMade - 1)] ?? 0,
    },
  });
  worker.on('error', (err) => log.error({ err: String(err) }, 'webhook worker error'));
  // Finished delivery records expire with the rest of the job.
  const retire = (job: Job<WebhookJobData> | undefined) => {
    if (!job?.id) return;
    const ms = Math.ceil(config.RESULT_TTL_SECONDS * 1000);
    redis
      .multi()
      .pexpire(keys.bullWebhook(job.id), ms)
      .pexpire(keys.bullWebhookLogs(job.id), ms)
      .exec()
      .catch((err) => log.warn({ job: job.id, err: String(err) }, 'could not retire delivery'));
  };
  worker.on('completed', retire);
  worker.on('failed', (job, err) => {
    if (job && failedForGood(job, err)) retire(job);
  });

  return {
    worker,
    async close() {
      await worker.close();
      bullRedis.disconnect();
    },
  };
}
