// Redis connections. Two kinds, because BullMQ needs them to behave differently:
// - "client": for request handlers; fails fast while Redis is down so the API can answer 503
//   instead of queueing commands in memory.
// - "blocking": for BullMQ Workers/QueueEvents; retries forever (maxRetriesPerRequest: null)
//   and reconnects by itself after an outage.
import { Redis, type RedisOptions } from 'ioredis';

export type ConnectionKind = 'client' | 'blocking';

const reconnect = (times: number) => Math.min(200 * 2 ** Math.min(times, 6), 5000);

export function redisOptions(kind: ConnectionKind): RedisOptions {
  return kind === 'client'
    ? {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        retryStrategy: reconnect,
      }
    : { maxRetriesPerRequest: null, retryStrategy: reconnect };
}

export function createRedis(url: string, kind: ConnectionKind): Redis {
  const redis = new Redis(url, redisOptions(kind));
  // Without a listener ioredis prints every reconnect error; callers log state themselves.
  redis.on('error', () => {});
  return redis;
}

/** Resolves once the connection is ready, or rejects after timeoutMs. */
export async function waitReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** One PING with a short timeout and no retries: is anything answering at this URL? */
export async function pingRedis(url: string, timeoutMs = 1000): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * True for Redis's refusal of a write in a full Redis ("OOM command not allowed when used memory >
 * 'maxmemory'"), also when it aborted a MULTI (EXECABORT, with the OOM among its previousErrors).
 */
export function isRedisOom(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.message.startsWith('OOM ')) return true;
  const previous = (err as { previousErrors?: unknown }).previousErrors;
  return Array.isArray(previous) && previous.some(isRedisOom);
}
