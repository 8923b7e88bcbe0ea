// The service as real processes for benchmarks: a private redis-server, the built API and worker
// processes (dist/, as in production), and their resident memory read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startTestRedis, type TestRedis } from '../../test/helpers/redis.js';
import { repoRoot } from './photos.js';

export interface Proc {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

export function startProcess(kind: 'api' | 'worker', env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [join(repoRoot, `dist/${kind}/main.js`)], {
    cwd: repoRoot,
    // As npm start and the images run them (scripts/start.ts, Dockerfiles).
    env: { MALLOC_ARENA_MAX: '2', ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

/** Resident set size now and its peak (VmHWM), in MB, from /proc (Linux). */
export function rss(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

export interface Cluster {
  redis: TestRedis;
  api: Proc;
  apiUrl: string;
  workers: Proc[];
  env: Record<string, string>;
  addWorker(): Proc;
  close(): Promise<void>;
}

/** Redis + API + n workers; resolves when the API is ready and n workers have registered. */
export async function startCluster(n: number, extraEnv: Record<string, string> = {}): Promise<Cluster> {
  const redis = await startTestRedis();
  const port = await freePort();
  // WORKERS tells each worker how many share this machine (the onnx backend splits the cores).
  const env = {
    REDIS_URL: redis.url,
    KEY_PREFIX: redis.prefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    WORKERS: String(Math.max(1, n)),
    ...extraEnv,
  };
  const api = startProcess('api', env);
  const apiUrl = `http://127.0.0.1:${port}`;
  const workers: Proc[] = [];
  const addWorker = () => {
    const w = startProcess('worker', env);
    workers.push(w);
    return w;
  };
  for (let i = 0; i < n; i++) addWorker();
  await waitForWorkers(apiUrl, n);
  return {
    redis,
    api,
    apiUrl,
    workers,
    env,
    addWorker,
    close: async () => {
      await Promise.all([...workers, api].map((p) => p.stop()));
      await redis.close();
    },
  };
}

export async function readyz(apiUrl: string): Promise<Record<string, unknown> | undefined> {
  try {
    const r = await fetch(`${apiUrl}/readyz`);
    return (await r.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export async function waitForWorkers(apiUrl: string, n: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await readyz(apiUrl);
    const count = (body?.workers as { count?: number } | undefined)?.count ?? -1;
    if (count >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${count} of ${n} workers registered`);
    await sleep(100);
  }
}
