// Webhook contracts shared by the worker (which enqueues and delivers) and the API (which reports
// delivery state): the event body, the delivery queue, and the per-job delivery record.
import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { optionsView } from './covers.js';
import { parseFailure } from './errors.js';
import type { FaceBox, TurdifyJobData, TurdifyJobResult } from './jobs.js';
import { WEBHOOK_QUEUE_NAME, type RedisKeys } from './keys.js';

export interface WebhookEvent {
  type: 'job.completed' | 'job.failed';
  /** When the job ended (ISO 8601). */
  timestamp: string;
  data: {
    id: string;
    status: 'completed' | 'failed';
    /** As GET /jobs/:id shows them (shared/covers.ts, optionsView). */
    options: Record<string, unknown>;
    faces: { count: number; boxes: FaceBox[] };
    result_url: string | null;
    error: { code: string; message: string } | null;
  };
}

export interface WebhookJobData {
  jobId: string;
  url: string;
  event: WebhookEvent;
}

export type WebhookQueue = Queue<WebhookJobData, { status: number }, 'deliver'>;

/** The event for a job that ended; built once, so every attempt sends the same bytes. */
export function webhookEvent(
  id: string,
  data: TurdifyJobData,
  outcome: { result: TurdifyJobResult } | { failedReason: string },
  endedAt = Date.now(),
): WebhookEvent {
  const base = (data.baseUrl ?? '').replace(/\/+$/, '');
  const completed = 'result' in outcome;
  const boxes = completed ? outcome.result.faces : [];
  return {
    type: completed ? 'job.completed' : 'job.failed',
    timestamp: new Date(endedAt).toISOString(),
    data: {
      id,
      status: completed ? 'completed' : 'failed',
      options: optionsView(data.options),
      faces: { count: boxes.length, boxes },
      result_url: completed && base ? `${base}/jobs/${id}/result` : null,
      error: completed ? null : parseFailure(outcome.failedReason),
    },
  };
}

/** Standard Webhooks message id: one per event, the same on every attempt (receivers dedupe on it). */
export const webhookMessageId = (jobId: string) => `msg_${jobId.replace(/-/g, '')}`;

export function openWebhookQueue(config: Config, connection: ConnectionOptions): WebhookQueue {
  return new Queue<WebhookJobData, { status: number }, 'deliver'>(WEBHOOK_QUEUE_NAME, {
    connection,
    prefix: config.KEY_PREFIX,
    defaultJobOptions: {
      attempts: config.WEBHOOK_RETRY_SCHEDULE.length + 1,
      backoff: { type: 'schedule' },
      // The worker gives finished records a TTL; BullMQ's age-based cleanup is a second net.
      removeOnComplete: { age: Math.ceil(config.RESULT_TTL_SECONDS) },
      removeOnFail: { age: Math.ceil(config.RESULT_TTL_SECONDS) },
    },
    streams: { events: { maxLen: 1000 } },
  });
}

/**
 * Enqueues the delivery of a job's event. The delivery's id is the job's id, so enqueueing twice
 * (a retried processor, the stalled-job safety net) still delivers once.
 */
export async function enqueueWebhook(queue: WebhookQueue, jobId: string, url: string, event: WebhookEvent) {
  await queue.add('deliver', { jobId, url, event }, { jobId });
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** What GET /jobs/:id shows of a job's webhook. */
export interface DeliveryRecord {
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
}

/** Writes part of the delivery record; it lives as long as the result (or the retry schedule). */
export async function writeDelivery(
  redis: Redis,
  keys: RedisKeys,
  jobId: string,
  fields: Partial<Record<keyof DeliveryRecord, string | number | null>>,
  ttlMs: number,
): Promise<void> {
  const key = keys.webhook(jobId);
  const set = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v === null ? '' : String(v)]));
  await redis.multi().hset(key, set).pexpire(key, Math.ceil(ttlMs)).exec();
}

export async function readDelivery(redis: Redis, keys: RedisKeys, jobId: string): Promise<DeliveryRecord> {
  const h = await redis.hgetall(keys.webhook(jobId));
  const str = (v: string | undefined) => (v ? v : null);
  return {
    state: (h.state as DeliveryState | undefined) ?? 'pending',
    attempts: Number(h.attempts ?? 0),
    last_status: h.last_status ? Number(h.last_status) : null,
    last_error: str(h.last_error),
    last_attempt_at: str(h.last_attempt_at),
    next_attempt_at: str(h.next_attempt_at),
    delivered_at: str(h.delivered_at),
  };
}
