// The in-process API's configuration for a test: its private Redis (URL and key prefix), any free
// port on loopback, then what the test sets.
import { createDeps, untilConnected } from '../../api/server.js';
import { loadConfig, type Config } from '../../shared/config.js';
import type { TestRedis } from './redis.js';

export function testApiConfig(redis: TestRedis, env: Record<string, string> = {}): Config {
  return loadConfig({ REDIS_URL: redis.url, KEY_PREFIX: redis.prefix, PORT: '0', HOST: '127.0.0.1', ...env });
}

/**
 * createDeps, resolved once its Redis connection is ready (as startApi waits before it listens): the
 * API's connection queues nothing while offline, so a test's first request must not race it.
 */
export async function readyDeps(
  ...args: Parameters<typeof createDeps>
): Promise<ReturnType<typeof createDeps>> {
  const built = createDeps(...args);
  await untilConnected(built.deps.redis, 10_000);
  return built;
}
