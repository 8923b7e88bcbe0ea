// Builds the API's connections and HTTP server; close() drains requests, then closes Redis.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueEvents } from 'bullmq';
import express, { type Express } from 'express';
import type { Config } from '../shared/config.js';
import { RedisImageStore } from '../shared/imageStore.js';
import { QUEUE_NAME, redisKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { openQueue } from '../shared/queue.js';
import { createRedis } from '../shared/redis.js';
import { openWebhookQueue } from '../shared/webhooks.js';
import { createJobWatcher } from './jobWatch.js';
import { createApp } from './app.js';
import { createMetrics } from './metrics.js';
import { HttpProblem, problemHandler, sendProblem } from './problem.js';
import { serverTimeouts } from './slowClients.js';
import type { ApiDeps } from './deps.js';
import { UploadBudget } from './uploadBudget.js';

export interface RunningApi {
  server: Server;
  /** http://host:port the server listens on (loopback when bound to all interfaces). */
  url: string;
  /** Where /metrics is served when METRICS_PORT is set. */
  metricsUrl?: string;
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
    ...(config.MAX_QUEUED_BYTES ? { maxQueuedBytes: config.MAX_QUEUED_BYTES } : {}),
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

  const uploads = new UploadBudget(config.MAX_UPLOAD_MEMORY_BYTES);
  const deps: ApiDeps = { config, queue, queueEvents, watcher, webhooks, store, redis, keys, log, uploads };
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

/** Listens on port/host; resolves with the server once it does. */
async function listen(app: Express, config: Config, port: number, host: string): Promise<Server> {
  const server = createServer(serverTimeouts(config), app);
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return server;
}

function urlOf(server: Server, host: string): string {
  const addr = server.address() as AddressInfo;
  const shown = ['0.0.0.0', '::', ''].includes(host) ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${addr.port}`;
}

/** How long the API waits for Redis before it listens anyway (answering 503 until Redis is back). */
const REDIS_WAIT_MS = 2000;

/**
 * Resolves when the connection is ready, fails to connect, or after ms: the API's connection has no
 * offline queue, so a request in the moment between listening and connecting would get a 503.
 */
export function untilConnected(redis: ApiDeps['redis'], ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      redis.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.once('ready', done);
    redis.once('error', done);
  });
}

export async function startApi(config: Config, log: Logger): Promise<RunningApi> {
  const built = createDeps(config, log);
  await untilConnected(built.deps.redis, REDIS_WAIT_MS);
  const metrics = createMetrics(built.deps);
  const app = createApp(built.deps, metrics);
  const server = await listen(app, config, config.PORT, config.HOST);
  const url = urlOf(server, config.HOST);
  // METRICS_PORT: /metrics alone on its own port (keep that one private), and not on PORT.
  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (config.METRICS_PORT !== undefined) {
    const metricsApp = express();
    metricsApp.disable('x-powered-by');
    metricsApp.use(metrics.router);
    metricsApp.use((_req, res) => {
      sendProblem(res, new HttpProblem(404, 'not-found', 'Not Found', 'this port serves GET /metrics only'));
    });
    metricsApp.use(problemHandler);
    const host = config.METRICS_HOST ?? config.HOST;
    metricsServer = await listen(metricsApp, config, config.METRICS_PORT, host);
    metricsUrl = urlOf(metricsServer, host);
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      metricsServer?.close();
      metricsServer?.closeAllConnections();
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

  return { server, url, ...(metricsUrl ? { metricsUrl } : {}), app, close };
}
