// `npm start`: the whole service on one machine — the API and WORKERS worker processes (default 1,
// "auto" = one per core) — with `--workers-only` for a machine that only adds workers.
// Finds Redis at REDIS_URL (default redis://127.0.0.1:6379); when nothing answers there, the address is
// this machine's and redis-server is installed, starts a private one for the session on that port
// (data in .turdify/redis-<port>, append-only file on, stopped on exit).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { pingRedis } from '../shared/redis.js';
import { spawnEntry } from './processes.js';

const log = createLogger('start');
const projectRoot = fileURLToPath(new URL(ext() === '.ts' ? '..' : '../..', import.meta.url));

function ext(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}

const hasRedisServer = () => spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

async function startPrivateRedis(url: string): Promise<ChildProcess> {
  const { hostname, port } = new URL(url);
  const dir = resolve(projectRoot, '.turdify', `redis-${port || '6379'}`);
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    'redis-server',
    [
      '--port',
      port || '6379',
      '--bind',
      hostname === 'localhost' ? '127.0.0.1' : hostname.replace(/^\[|\]$/g, ''),
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis(url, 500))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`private redis-server did not start on ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

async function main(): Promise<void> {
  const workersOnly = process.argv.includes('--workers-only');
  const config = loadConfig();
  const workers = config.WORKERS === 'auto' ? availableParallelism() : config.WORKERS;
  const children: ChildProcess[] = [];
  let redis: ChildProcess | undefined;

  if (!(await pingRedis(config.REDIS_URL, 1500))) {
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(config.REDIS_URL).hostname);
    if (!local || !config.START_PRIVATE_REDIS || !hasRedisServer()) {
      const how = local
        ? 'install redis-server (apt-get install redis-server, or brew install redis) or run `docker compose up`'
        : 'check REDIS_URL and that the server is up';
      console.error(`turdify: no Redis answers at ${config.REDIS_URL}: ${how}.`);
      process.exit(1);
    }
    redis = await startPrivateRedis(config.REDIS_URL);
    log.info(
      { url: config.REDIS_URL, dir: `.turdify/redis-${new URL(config.REDIS_URL).port || '6379'}` },
      'no Redis was running: started a private redis-server for this session',
    );
  }

  let stopping = false;
  const stopAll = (signal: NodeJS.Signals, code: number) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill(signal);
    const waitChildren = Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)),
    );
    void waitChildren.then(async () => {
      if (redis && redis.exitCode === null) {
        redis.kill('SIGTERM');
        await new Promise((r) => redis!.once('exit', r));
      }
      process.exit(code);
    });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => (stopping ? process.exit(130) : stopAll(signal, 0)));
  }

  // Fewer glibc malloc arenas: libvips, ONNX Runtime and libuv threads each got their own, and a
  // worker's resident memory grew ~130 MB more over 60 jobs with the default (docs/performance.md).
  const env = { MALLOC_ARENA_MAX: '2', ...process.env, REDIS_URL: config.REDIS_URL };
  const launch = (name: 'api/main' | 'worker/main') => {
    const child = spawnEntry(name, { env });
    children.push(child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      log.error(
        { process: name, pid: child.pid, code, signal },
        'a service process exited: stopping the rest',
      );
      stopAll('SIGTERM', code || 1);
    });
  };
  if (!workersOnly) launch('api/main');
  for (let i = 0; i < workers; i++) launch('worker/main');
  log.info({ api: !workersOnly, workers, redis: config.REDIS_URL }, 'turdify started');
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
