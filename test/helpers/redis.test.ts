// The test Redis helper's promise for `REDIS_URL=… npm test`: on an external server the tests keep to
// a key prefix of their own, delete only their keys, and refuse to stop it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis } from '../../shared/redis.js';
import { keysWithoutTtl, prefixedKeys, startTestRedis, type TestRedis } from './redis.js';

describe('test Redis on an external server (REDIS_URL)', () => {
  let server: TestRedis;
  let redis: Redis;
  const saved = process.env.REDIS_URL;
  const foreign = `someone-else-${process.pid}:key`;

  before(async () => {
    server = await startTestRedis();
    redis = createRedis(server.url, 'blocking');
    await redis.set(foreign, 'not ours');
  });
  after(async () => {
    await redis.del(foreign);
    redis.disconnect();
    await server.close();
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
  });

  it('uses a prefix of its own, scans only it, deletes only its keys, never stops the server', async () => {
    process.env.REDIS_URL = server.url;
    const a = await startTestRedis();
    const b = await startTestRedis();
    assert.notEqual(a.prefix, b.prefix, 'each test file its own prefix');
    assert.notEqual(a.prefix, 'turdify', 'never the default prefix a user runs with');
    await redis.set(`${a.prefix}:forever`, '1');
    await redis.set(`${a.prefix}:brief`, '1', 'EX', 60);
    await redis.set(`${b.prefix}:other`, '1');
    assert.deepEqual(await keysWithoutTtl(redis, a.prefix), [`${a.prefix}:forever`]);
    await assert.rejects(a.stop(), /will not stop/);
    await assert.rejects(a.crash(), /will not stop/);
    await a.close();
    assert.deepEqual(await prefixedKeys(redis, a.prefix), []);
    assert.deepEqual(await prefixedKeys(redis, b.prefix), [`${b.prefix}:other`]);
    assert.equal(await redis.get(foreign), 'not ours');
    assert.equal(await redis.ping(), 'PONG');
    await b.close();
  });
});
