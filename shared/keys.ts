// The Redis key layout, in one place. BullMQ owns `${prefix}:${QUEUE_NAME}:*`;
// the service's own keys sit beside it under the same prefix.
export const QUEUE_NAME = 'jobs';
/** Webhook deliveries: their own queue, so they retry on their own schedule and survive restarts. */
export const WEBHOOK_QUEUE_NAME = 'webhooks';

export function redisKeys(prefix: string) {
  return {
    /** Uploaded image bytes, deleted once processed; TTL INPUT_TTL_SECONDS. */
    input: (jobId: string) => `${prefix}:input:${jobId}`,
    /** Result image bytes; TTL RESULT_TTL_SECONDS. */
    result: (jobId: string) => `${prefix}:result:${jobId}`,
    /** The byte ledger of stored uploads (shared/memoryBudget.ts): job id → sizes, plus totals. */
    ledger: `${prefix}:ledger`,
    /** The same uploads by expiry time, so entries whose upload's TTL ran out are dropped. */
    ledgerExpiry: `${prefix}:ledger:expiry`,
    /** Set by DELETE on a job that is running, so the worker discards its result. */
    cancelled: (jobId: string) => `${prefix}:cancelled:${jobId}`,
    /** One hash per live worker process, refreshed by its heartbeat; expires when it stops. */
    worker: (workerId: string) => `${prefix}:worker:${workerId}`,
    workerPattern: `${prefix}:worker:*`,
    /** BullMQ's hash for one job (the job record). */
    bullJob: (jobId: string) => `${prefix}:${QUEUE_NAME}:${jobId}`,
    bullJobLogs: (jobId: string) => `${prefix}:${QUEUE_NAME}:${jobId}:logs`,
    /** A job's webhook delivery record (state, attempts, last answer); expires with the result. */
    webhook: (jobId: string) => `${prefix}:webhook:${jobId}`,
    /** BullMQ's record of a job's delivery (its id is the job's id). */
    bullWebhook: (jobId: string) => `${prefix}:${WEBHOOK_QUEUE_NAME}:${jobId}`,
    bullWebhookLogs: (jobId: string) => `${prefix}:${WEBHOOK_QUEUE_NAME}:${jobId}:logs`,
    /** An API key's record, under the SHA-256 of the key (the key itself is never stored). No TTL. */
    apiKey: (keyHash: string) => `${prefix}:apikey:${keyHash}`,
    /** Name → key hash, for `npm run keys -- list/revoke`. No TTL. */
    apiKeyNames: `${prefix}:apikeys`,
    /** An Idempotency-Key's claim and the job it made, per owner; TTL 24 h. */
    idempotency: (owner: string, keyHash: string) => `${prefix}:idempotency:${owner}:${keyHash}`,
    /** Rate-limit counters (express-rate-limit's Redis store adds the client); TTL one window. */
    rateLimit: (limiter: string) => `${prefix}:ratelimit:${limiter}:`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
