// The byte ledger (shared/memoryBudget.ts) against a real redis-server with a 64 MB maxmemory:
// exact under concurrent admissions, completions and deletions from several connections (as from
// several API and worker processes), self-correcting after a crash, and usable in a full Redis.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisImageStore } from '../../shared/imageStore.js';
import { newJobId } from '../../shared/jobs.js';
import { redisKeys } from '../../shared/keys.js';
import { BudgetRefusal, MemoryBudget, type BudgetUsage } from '../../shared/memoryBudget.js';
import { createRedis, waitReady } from '../../shared/redis.js';
import { until } from '../helpers/cluster.js';
import {
  fillRedis,
  keysWithoutTtl,
  needsPrivateRedis,
  oomRefusals,
  squeezeRedis,
  startTestRedis,
  type TestRedis,
} from '../helpers/redis.js';

const MAX_MEMORY = 64 * 2 ** 20;

describe('memory budget', { skip: needsPrivateRedis }, () => {
  let server: TestRedis;
  const connections: Redis[] = [];
  // "client" connections, as the API's: they fail fast instead of queueing commands.
  const connect = async () => {
    const c = createRedis(server.url, 'client');
    connections.push(c);
    await waitReady(c, 10_000);
    return c;
  };
  let redis: Redis;

  before(async () => {
    server = await startTestRedis({ args: ['--maxmemory', String(MAX_MEMORY)] });
    redis = await connect();
  });
  after(async () => {
    assert.deepEqual(await keysWithoutTtl(redis, server.prefix), [], 'every key the ledger writes has a TTL');
    for (const c of connections) c.disconnect();
    await server.close();
  });

  /** What the uploads under this prefix really occupy: their keys and lengths. */
  async function stored(prefix: string): Promise<{ bytes: number; jobs: number }> {
    let bytes = 0;
    let jobs = 0;
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:input:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) {
        bytes += await redis.strlen(key);
        jobs++;
      }
    } while (cursor !== '0');
    return { bytes, jobs };
  }

  it('stays exact under concurrent admissions, completions and deletions from several processes', async () => {
    const prefix = 'concurrent';
    const keys = redisKeys(prefix);
    const max = 2_000_000;
    // Four "processes", each with its own connection and store.
    const stores = await Promise.all(
      Array.from(
        { length: 4 },
        async () =>
          new RedisImageStore(await connect(), keys, {
            inputSeconds: 600,
            resultSeconds: 600,
            maxQueuedBytes: max,
          }),
      ),
    );
    const admitted: string[] = [];
    let accepted = 0;
    let refused = 0;
    let overBound = 0;
    const check = async () => {
      const u = await stores[0]!.usage();
      if (u.queuedBytes > max) overBound++;
    };
    const client = async (i: number) => {
      for (let n = 0; n < 60; n++) {
        const store = stores[(i + n) % stores.length]!;
        const op = randomInt(10);
        if (op < 6 || admitted.length === 0) {
          const id = newJobId();
          try {
            await store.putInput(id, Buffer.alloc(randomInt(10_000, 200_000), 1), randomInt(1000, 50_000));
            admitted.push(id);
            accepted++;
          } catch (err) {
            assert.ok(err instanceof BudgetRefusal && err.reason === 'queue-full', String(err));
            refused++;
          }
        } else {
          // A job ending (its input released) or deleted (input and result), sometimes both at once
          // from two processes, as when DELETE meets the worker's completion.
          const id = admitted[randomInt(admitted.length)]!;
          const other = stores[(i + n + 1) % stores.length]!;
          if (op === 9) await Promise.all([store.deleteInput(id), other.deleteAll(id)]);
          else if (op === 8) await store.deleteAll(id);
          else await store.deleteInput(id);
        }
        if (n % 10 === 0) await check();
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => client(i)));
    assert.ok(accepted > 10 && refused > 0, `accepted ${accepted}, refused ${refused}`);
    assert.equal(overBound, 0, 'the stored bytes never passed the bound');
    const real = await stored(prefix);
    const usage = await stores[0]!.usage();
    assert.equal(usage.queuedBytes, real.bytes, 'queued bytes = the bytes of the uploads stored');
    assert.equal(usage.queuedJobs, real.jobs);
    assert.equal(usage.pendingBytes, 0, 'every admission was written or given back');
    assert.ok(usage.queuedBytes <= max);
    // Everything given back: the totals return to zero.
    await Promise.all(admitted.map((id) => stores[0]!.deleteAll(id)));
    const empty = await stores[1]!.usage();
    assert.deepEqual(
      [empty.queuedBytes, empty.queuedJobs, empty.reservedBytes, empty.pendingBytes],
      [0, 0, 0, 0],
    );
  });

  it('forgets an upload whose TTL ran out before any worker took it', async () => {
    const keys = redisKeys('expiring');
    const store = new RedisImageStore(redis, keys, { inputSeconds: 1, resultSeconds: 60 });
    await store.putInput(newJobId(), Buffer.alloc(50_000, 2), 1000);
    assert.equal((await store.usage()).queuedBytes, 50_000);
    await until(
      'the expired upload to leave the ledger',
      async () => (await store.usage()).queuedBytes === 0,
      10_000,
    );
    assert.deepEqual(await stored('expiring'), { bytes: 0, jobs: 0 });
  });

  it('corrects itself after a crash between admission and write, and after a key deleted behind its back', async () => {
    const keys = redisKeys('crash');
    const budget = new MemoryBudget(redis, keys, { inputTtlSeconds: 600 });
    const store = new RedisImageStore(redis, keys, { inputSeconds: 600, resultSeconds: 600 });
    // An API that died right after admitting: bytes reserved, never written.
    const orphan = newJobId();
    await budget.admit(orphan, 70_000, 1000);
    // An upload whose key vanished without a release (deleted by hand).
    const vanished = newJobId();
    await store.putInput(vanished, Buffer.alloc(30_000, 3), 1000);
    await redis.unlink(keys.input(vanished));
    const kept = newJobId();
    await store.putInput(kept, Buffer.alloc(20_000, 4), 1000);
    const before: BudgetUsage = await budget.usage();
    assert.equal(before.queuedBytes, 120_000);
    assert.equal(before.pendingBytes, 70_000);

    await budget.reconcile(60_000);
    const withinGrace = await budget.usage();
    assert.equal(
      withinGrace.queuedBytes,
      90_000,
      'a vanished upload goes; a fresh admission may still be written',
    );
    await budget.reconcile(0);
    const after = await budget.usage();
    assert.deepEqual([after.queuedBytes, after.queuedJobs, after.pendingBytes], [20_000, 1, 0]);
    // The late writer of a lapsed admission: refused, and its bytes are not left behind.
    await assert.rejects(budget.write(orphan, Buffer.alloc(70_000), 600), /lapsed/);
    assert.equal(await redis.exists(keys.input(orphan)), 0);
    // Releasing twice, or releasing what was dropped, subtracts nothing more.
    await store.deleteInput(vanished);
    await store.deleteInput(kept);
    await store.deleteInput(kept);
    assert.equal((await budget.usage()).queuedBytes, 0);
  });

  it('refuses by memory before Redis refuses a write, takes half of maxmemory by default, and releases in a full Redis', async () => {
    const keys = redisKeys('memory');
    const store = new RedisImageStore(redis, keys, { inputSeconds: 600, resultSeconds: 600 });
    const refusedBefore = await oomRefusals(redis);
    const usage = await store.usage();
    assert.equal(usage.maxMemory, MAX_MEMORY);
    assert.equal(usage.maxQueuedBytes, MAX_MEMORY / 2, 'MAX_QUEUED_BYTES unset: half of maxmemory');

    // Redis filled by something else (results, say) to 8 MB short of its limit.
    const filler = await fillRedis(redis, MAX_MEMORY - 8 * 2 ** 20);
    const id = newJobId();
    const err = await store.putInput(id, Buffer.alloc(2_000_000, 5), 3_000_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof BudgetRefusal && err.reason === 'memory-full', String(err));
    assert.equal(err.usage.maxMemory, MAX_MEMORY);
    assert.equal(await redis.exists(keys.input(id)), 0);
    assert.equal(await oomRefusals(redis), refusedBefore, 'Redis itself refused nothing');
    // A small one still fits.
    const small = newJobId();
    await store.putInput(small, Buffer.alloc(100_000, 6), 100_000);

    // Now full for good: even so, a job's end gives its bytes back.
    const full = await squeezeRedis(redis);
    try {
      await assert.rejects(redis.set('probe', 'x'), /^ReplyError: OOM/, 'Redis is full');
      await store.deleteInput(small);
      assert.equal((await store.usage()).queuedBytes, 0);
      assert.equal(await redis.exists(keys.input(small)), 0);
    } finally {
      await full.restore();
    }
    await filler.clear();

    // A maxmemory changed at run time applies at once.
    await redis.config('SET', 'maxmemory', String(MAX_MEMORY / 2));
    try {
      assert.equal((await store.usage()).maxQueuedBytes, MAX_MEMORY / 4);
    } finally {
      await redis.config('SET', 'maxmemory', String(MAX_MEMORY));
    }
    // MAX_QUEUED_BYTES set: it wins, and an upload larger than it can never be taken.
    const bounded = new RedisImageStore(redis, keys, {
      inputSeconds: 600,
      resultSeconds: 600,
      maxQueuedBytes: 1000,
    });
    await assert.rejects(bounded.putInput(newJobId(), Buffer.alloc(1001)), (e: unknown) => {
      return e instanceof BudgetRefusal && e.reason === 'too-large' && e.usage.maxQueuedBytes === 1000;
    });
  });
});
