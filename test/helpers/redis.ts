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

export async function startTestRedis(opts: { appendonly?: boolean } = {}): Promise<TestRedis> {
  if (process.env.REDIS_URL) {
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
    proc = spawn('redis-server', redisServerArgs(port, dir, { appendonly: opts.appendonly ?? false }), {
      stdio: 'ignore',
    });
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
