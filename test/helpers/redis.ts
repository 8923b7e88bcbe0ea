// A private redis-server for one test file: started on a free port with a throw-away data dir,
// so tests never touch shared state. Falls back to REDIS_URL when set (CI with an external Redis).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM) without deleting its data, for outage tests. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  start(): Promise<void>;
  /** Stops it and removes its data dir. */
  close(): Promise<void>;
}

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

async function ping(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      return;
    } catch (err) {
      r.disconnect();
      if (Date.now() > deadline) throw err;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
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

/** For tests that configure their server (`args`): a shared REDIS_URL server cannot be reconfigured. */
export const needsPrivateRedis = process.env.REDIS_URL
  ? 'needs a private redis-server with its own settings (REDIS_URL is set)'
  : false;

export async function startTestRedis(
  opts: { appendonly?: boolean; args?: string[] } = {},
): Promise<TestRedis> {
  if (process.env.REDIS_URL && !opts.args) {
    const url = process.env.REDIS_URL;
    return {
      url,
      port: Number(new URL(url).port || 6379),
      stop: async () => {},
      start: async () => {},
      close: async () => {},
    };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'turdify-redis-'));
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    const args = redisServerArgs(port, dir, { appendonly: opts.appendonly ?? false, args: opts.args ?? [] });
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    await ping(url, 10_000);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((res) => {
      p.once('exit', () => res());
      p.kill('SIGTERM');
    });
  };
  await start();
  return {
    url,
    port,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** BullMQ's per-queue bookkeeping: lists and sets of ids and counters, no image data or face boxes. */
const STRUCTURAL =
  /^turdify:(jobs|webhooks):(meta|id|events|wait|active|completed|failed|delayed|prioritized|paused|stalled|stalled-check|marker|pc|limiter|waiting-children|de:.*)$/;

/** API keys (a hash of each, and the name index) live until revoked. */
const API_KEYS = /^turdify:(apikey:[0-9a-f]{64}|apikeys)$/;

/** Every key (BullMQ's structural ones and API keys aside) that has no TTL: the service must leave none. */
export async function keysWithoutTtl(redis: Redis): Promise<string[]> {
  const forever: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      if (STRUCTURAL.test(key) || API_KEYS.test(key)) continue;
      if ((await redis.pttl(key)) < 0) forever.push(key);
    }
  } while (cursor !== '0');
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
