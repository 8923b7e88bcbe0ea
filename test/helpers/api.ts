// The in-process API's configuration for a test: its private Redis (URL and key prefix), any free
// port on loopback, then what the test sets.
import { once } from 'node:events';
import { createDeps } from '../../api/server.js';
import { loadConfig, type Config } from '../../shared/config.js';
import type { TestRedis } from './redis.js';

export function testApiConfig(redis: TestRedis, env: Record<string, string> = {}): Config {
  return loadConfig({ REDIS_URL: redis.url, KEY_PREFIX: redis.prefix, PORT: '0', HOST: '127.0.0.1', ...env });
}

/**
 * createDeps, resolved once its Redis connection is ready: the API's connection queues nothing
 * while offline (a Redis outage answers 503 at once), so a test's first request must not race it.
 */
export async function readyDeps(
  ...args: Parameters<typeof createDeps>
): Promise<ReturnType<typeof createDeps>> {
  const built = createDeps(...args);
  if (built.deps.redis.status !== 'ready') await once(built.deps.redis, 'ready');
  return built;
}
