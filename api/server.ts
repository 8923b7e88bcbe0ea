// Builds the API's connections and HTTP server; close() drains requests, then closes Redis.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueEvents } from 'bullmq';
import type { Express } from 'express';
import type { Config } from '../shared/config.js';
import { RedisImageStore } from '../shared/imageStore.js';
import { QUEUE_NAME, redisKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { openQueue } from '../shared/queue.js';
import { createRedis } from '../shared/redis.js';
import { openWebhookQueue } from '../shared/webhooks.js';
import { createJobWatcher } from './jobWatch.js';
import { createApp } from './app.js';
import type { ApiDeps } from './deps.js';

export interface RunningApi {
  server: Server;
  /** http://host:port the server listens on (loopback when bound to all interfaces). */
  url: string;
  app: Express;
  close(): Promise<void>;
}

/** The API's Redis connections, queue, events and store; close() releases them all. */
export function createDeps(config: Config, log: Logger): { deps: ApiDeps; close(): Promise<void> } {
  const keys = redisKeys(config.KEY_PREFIX);
  const redis = createRedis(config.REDIS_URL, 'client');
  // A fail-fast connection for the Queue too, so add() while Redis is down errors (503) at once.
  const queueRedis = createRedis(config.REDIS_URL, 'client');
  const eventsRedis = createRedis(config.REDIS_URL, 'blocking');
  const queue = openQueue(config, queueRedis);
  queue.on('error', (err) => log.debug({ err: err.message }, 'queue connection error'));
  const queueEvents = new QueueEvents(QUEUE_NAME, { connection: eventsRedis, prefix: config.KEY_PREFIX });
  queueEvents.on('error', (err) => log.debug({ err: err.message }, 'queue events connection error'));
  const webhooks = openWebhookQueue(config, queueRedis);
  webhooks.on('error', (err) => log.debug({ err: err.message }, 'webhook queue connection error'));
  const watcher = createJobWatcher(queueEvents, (id) => queue.getJobState(id));
  const store = new RedisImageStore(redis, keys, {
    inputSeconds: config.INPUT_TTL_SECONDS,
    resultSeconds: config.RESULT_TTL_SECONDS,
  });
  let wasReady = false;
  redis.on('ready', () => {
    wasReady = true;
    log.info('redis connected');
  });
  redis.on('close', () => {
    if (wasReady) log.warn('redis connection lost; answering 503 until it is back');
    wasReady = false;
  });

  const deps: ApiDeps = { config, queue, queueEvents, watcher, webhooks, store, redis, keys, log };
  const close = async () => {
    // Let BullMQ finish initialising (bounded) so no start-up command lands on a closed connection.
    await Promise.race([
      redis.status === 'ready'
        ? Promise.allSettled([queue.waitUntilReady(), queueEvents.waitUntilReady()])
        : Promise.resolve(),
      sleep(1000, undefined, { ref: false }),
    ]);
    // BullMQ's close() can wait on a dead connection forever: bound it, then cut the sockets.
    await Promise.race([
      Promise.allSettled([queueEvents.close(), queue.close(), webhooks.close()]),
      sleep(2000, undefined, { ref: false }),
    ]);
    for (const r of [redis, queueRedis, eventsRedis]) r.disconnect();
  };
  return { deps, close };
}

export async function startApi(config: Config, log: Logger): Promise<RunningApi> {
  const built = createDeps(config, log);
  const app = createApp(built.deps);
  const server = app.listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const addr = server.address() as AddressInfo;
  const host = ['0.0.0.0', '::', ''].includes(config.HOST) ? '127.0.0.1' : config.HOST;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // Long polls answer and event streams end now; uploads and /turdify/ calls are waited for.
      built.deps.watcher.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          log.warn('shutdown timeout: closing remaining connections');
          server.closeAllConnections();
        }, config.SHUTDOWN_TIMEOUT_SECONDS * 1000);
        timer.unref();
        // A keep-alive connection whose request ends during the drain goes idle: close it then.
        const idle = setInterval(() => server.closeIdleConnections(), 100);
        server.close(() => {
          clearTimeout(timer);
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
      });
      await built.close();
    })());

  return { server, url, app, close };
}
