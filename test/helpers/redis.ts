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
  ? 'stops and starts Redis, which the tests do only to a private redis-server (REDIS_URL is set)'
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

/** A private, loopback-only redis-server as BullMQ needs it (noeviction); optionally with an AOF. */
export function redisServerArgs(
  port: number,
  dir: string,
  opts: { appendonly: boolean; fsyncAlways?: boolean },
): string[] {
  return [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
    ...['--appendonly', opts.appendonly ? 'yes' : 'no'],
    ...(opts.fsyncAlways ? ['--appendfsync', 'always'] : []),
    ...['--maxmemory-policy', 'noeviction', '--loglevel', 'warning'],
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
        const keys = await prefixedKeys(redis, prefix);
        for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
      } finally {
        redis.disconnect();
      }
    },
  };
}

export async function startTestRedis(
  opts: { appendonly?: boolean; fsyncAlways?: boolean } = {},
): Promise<TestRedis> {
  if (process.env.REDIS_URL) return externalRedis(process.env.REDIS_URL);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'turdify-redis-'));
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const args = redisServerArgs(port, dir, {
    appendonly: opts.appendonly ?? false,
    fsyncAlways: opts.fsyncAlways ?? false,
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

/** Every key under `prefix` (BullMQ's structural ones aside) that has no TTL: the service must leave none. */
export async function keysWithoutTtl(redis: Redis, prefix: string): Promise<string[]> {
  const forever: string[] = [];
  for (const key of await prefixedKeys(redis, prefix)) {
    if (STRUCTURAL.test(key.slice(prefix.length + 1))) continue;
    if ((await redis.pttl(key)) < 0) forever.push(key);
  }
  return forever;
}
