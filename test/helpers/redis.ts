// A private redis-server for one test file: started on a free port with a throw-away data dir,
// so tests never touch shared state. With REDIS_URL set (CI with an external Redis) the tests use
// that server instead, under a key prefix of their own: they read and scan only that prefix, delete
// every key under it when they close, and the tests that must stop and start Redis skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { configSchema } from '../../shared/config.js';
import { pingRedis } from '../../shared/redis.js';

export interface TestRedis {
  url: string;
  port: number;
  /** KEY_PREFIX for everything this test file writes: pass it to every config and queue. */
  prefix: string;
  /** The private redis-server's process id (benchmarks read its CPU time); none on an external one. */
  pid(): number | undefined;
  /** Stops the server (SIGTERM) without deleting its data, for outage tests. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  start(): Promise<void>;
  /** SIGKILL: the machine died. With appendfsync always nothing acknowledged is lost. */
  crash(): Promise<void>;
  /** Stops it and removes its data dir (external Redis: deletes every key under `prefix`). */
  close(): Promise<void>;
}

/**
 * Why a test that stops, crashes or restarts Redis cannot run, or false when it can: pass it as
 * node:test's `skip` option. Such tests only ever do that to a private redis-server.
 */
export const needsPrivateRedis: string | false = process.env.REDIS_URL
  ? 'stops, starts or configures Redis, which the tests do only to a private redis-server (REDIS_URL is set)'
  : false;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A private, loopback-only redis-server as BullMQ needs it (noeviction); optionally with an AOF,
 * and extra arguments (e.g. `--maxmemory 64mb`).
 */
export function redisServerArgs(
  port: number,
  dir: string,
  opts: { appendonly: boolean; fsyncAlways?: boolean; args?: string[] },
): string[] {
  return [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
    ...['--appendonly', opts.appendonly ? 'yes' : 'no'],
    ...(opts.fsyncAlways ? ['--appendfsync', 'always'] : []),
    ...['--maxmemory-policy', 'noeviction', '--loglevel', 'warning'],
    ...(opts.args ?? []),
  ];
}

/** Every key under `prefix:` (SCAN, never KEYS: an external Redis may be large and shared). */
export async function prefixedKeys(redis: Redis, prefix: string, pattern = '*'): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:${pattern}`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

async function externalRedis(url: string): Promise<TestRedis> {
  // Unique per test process, and matching no one else's keys: only ours are ever deleted.
  const prefix = `turdify-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const refuse = async () => {
    throw new Error(`will not stop, start or crash the external Redis at REDIS_URL (skip this test)`);
  };
  return {
    url,
    port: Number(new URL(url).port || 6379),
    prefix,
    pid: () => undefined,
    stop: refuse,
    start: refuse,
    crash: refuse,
    close: async () => {
      const redis = new Redis(url, { maxRetriesPerRequest: 3 });
      redis.on('error', () => {});
      try {
        // Ours, and those of the prefixes some tests derive from it (`${prefix}m`): it is unique.
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** `args`: server settings (e.g. a small maxmemory); an external Redis cannot take them (needsPrivateRedis). */
export async function startTestRedis(
  opts: { appendonly?: boolean; fsyncAlways?: boolean; args?: string[] } = {},
): Promise<TestRedis> {
  if (process.env.REDIS_URL) {
    if (opts.args?.length) throw new Error(`${needsPrivateRedis}: skip this test`);
    return externalRedis(process.env.REDIS_URL);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'turdify-redis-'));
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const args = redisServerArgs(port, dir, {
    appendonly: opts.appendonly ?? false,
    fsyncAlways: opts.fsyncAlways ?? false,
    args: opts.args ?? [],
  });
  const start = async () => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    proc = child;
    const deadline = Date.now() + 15_000;
    while (!(await pingRedis(url, 500))) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`redis-server did not start on ${url}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  const halt = (signal: NodeJS.Signals) => async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((res) => {
      p.once('exit', () => res());
      p.kill(signal);
    });
  };
  const stop = halt('SIGTERM');
  await start();
  return {
    url,
    port,
    // The default, as users run it: nothing else shares this server.
    prefix: configSchema.shape.KEY_PREFIX.parse(undefined),
    pid: () => proc?.pid,
    stop,
    start,
    crash: halt('SIGKILL'),
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** BullMQ's per-queue bookkeeping: lists and sets of ids and counters, no image data or face boxes. */
const STRUCTURAL =
  /^(jobs|webhooks):(meta|id|events|wait|active|completed|failed|delayed|prioritized|paused|stalled|stalled-check|marker|pc|limiter|waiting-children|de:.*)$/;

/** API keys (a hash of each, and the name index) live until revoked. */
const API_KEYS = /^(apikey:[0-9a-f]{64}|apikeys)$/;

/**
 * Every key under `prefix` (BullMQ's structural ones and API keys aside) that has no TTL: the
 * service must leave none.
 */
export async function keysWithoutTtl(redis: Redis, prefix: string): Promise<string[]> {
  const forever: string[] = [];
  for (const key of await prefixedKeys(redis, prefix)) {
    const own = key.slice(prefix.length + 1);
    if (STRUCTURAL.test(own) || API_KEYS.test(own)) continue;
    if ((await redis.pttl(key)) < 0) forever.push(key);
  }
  return forever;
}

/** Redis INFO memory's used_memory and maxmemory. */
export async function redisMemory(redis: Redis): Promise<{ used: number; max: number }> {
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { used: field('used_memory'), max: field('maxmemory') };
}

/** How many commands Redis has refused for want of memory since it started (INFO errorstats). */
export async function oomRefusals(redis: Redis): Promise<number> {
  const info = await redis.info('errorstats');
  return Number(/^errorstat_OOM:count=(\d+)/m.exec(info)?.[1] ?? 0);
}

/** Fills Redis with throw-away values (TTL 10 min) until used_memory reaches `untilUsed`. */
export async function fillRedis(redis: Redis, untilUsed: number): Promise<{ clear(): Promise<void> }> {
  const keys: string[] = [];
  const value = Buffer.alloc(256 * 1024, 0x5a);
  while ((await redisMemory(redis)).used < untilUsed) {
    const key = `filler:${keys.length}`;
    await redis.set(key, value, 'EX', 600);
    keys.push(key);
  }
  return {
    clear: async () => {
      for (let i = 0; i < keys.length; i += 100) await redis.unlink(...keys.slice(i, i + 100));
    },
  };
}

/**
 * A full Redis: maxmemory lowered 1 MB below what it uses, so Redis refuses every write that may
 * grow memory (OOM), as when data filled it; deletions still work. restore() gives the old limit
 * back (the same room as freeing that memory).
 */
export async function squeezeRedis(redis: Redis): Promise<{ restore(): Promise<void> }> {
  const before = (await redisMemory(redis)).max;
  const { used } = await redisMemory(redis);
  await redis.config('SET', 'maxmemory', String(used - 2 ** 20));
  return {
    restore: async () => {
      await redis.config('SET', 'maxmemory', String(before));
    },
  };
}
