// The in-process API's configuration for a test: its private Redis (URL and key prefix), any free
// port on loopback, then what the test sets.
import { loadConfig, type Config } from '../../shared/config.js';
import type { TestRedis } from './redis.js';

export function testApiConfig(redis: TestRedis, env: Record<string, string> = {}): Config {
  return loadConfig({ REDIS_URL: redis.url, KEY_PREFIX: redis.prefix, PORT: '0', HOST: '127.0.0.1', ...env });
}
