// What the HTTP layer needs from the outside world, injected so tests can build an app on any Redis.
import type { Request } from 'express';
import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { ImageStore } from '../shared/imageStore.js';
import type { RedisKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { TurdifyQueue } from '../shared/queue.js';
import type { WebhookQueue } from '../shared/webhooks.js';
import type { JobWatcher } from './jobWatch.js';
import type { UploadBudget } from './uploadBudget.js';

export interface ApiDeps {
  config: Config;
  queue: TurdifyQueue;
  queueEvents: QueueEvents;
  /** Job events fanned out to the requests waiting on them (SSE, long poll, /turdify/). */
  watcher: JobWatcher;
  /** Webhook deliveries (the API only removes them, with their job). */
  webhooks: WebhookQueue;
  store: ImageStore;
  /** A "client" connection: fails fast while Redis is down. */
  redis: Redis;
  keys: RedisKeys;
  log: Logger;
  /** Upload bytes this process holds in memory, bounded by MAX_UPLOAD_MEMORY_BYTES. */
  uploads: UploadBudget;
}

/** Base of absolute URLs: PUBLIC_URL when set, else what the request was addressed to. */
export function baseUrl(config: Config, req: Request): string {
  if (config.PUBLIC_URL) return config.PUBLIC_URL.replace(/\/+$/, '');
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
