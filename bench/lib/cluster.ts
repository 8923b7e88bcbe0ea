// The service as real processes for benchmarks: a private redis-server, the built API and worker
// processes (dist/, as in production), and their resident memory read from /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
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

/** taskset(1) is there: a process can be held to one core. */
export const canPin = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;

/**
 * Starts dist/<kind>/main.js. `MALLOC_ARENA_MAX: 'unset'` runs it without the setting npm start
 * gives; `cpus` (e.g. '0') holds it to those cores with taskset.
 */
export function startProcess(kind: 'api' | 'worker', env: Record<string, string>, cpus?: string): Proc {
  // As npm start and the images run them (scripts/start.ts, Dockerfiles).
  const childEnv: Record<string, string | undefined> = {
    MALLOC_ARENA_MAX: '2',
    ...process.env,
    LOG_LEVEL: 'warn',
    ...env,
  };
  if (childEnv.MALLOC_ARENA_MAX === 'unset') delete childEnv.MALLOC_ARENA_MAX;
  // BENCH_PROFILE_DIR=dir: each process writes a V8 CPU profile there when it stops (for the
  // "why" of a missed target; NODE_OPTIONS does not accept --cpu-prof).
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_PROFILE_DIR, kind)}`]
    : [];
  const node = [process.execPath, ...profile, join(repoRoot, `dist/${kind}/main.js`)];
  const [cmd, ...args] = cpus && canPin ? ['taskset', '-c', cpus, ...node] : node;
  const child = spawn(cmd!, args, {
    cwd: repoRoot,
    env: childEnv,
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

const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU seconds (user + system, every thread) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return NaN;
  }
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

/**
 * Redis + API + n workers; resolves when the API is ready and n workers have registered.
 * `apiCpus`: hold the API to these cores (taskset), e.g. '0'.
 */
export async function startCluster(
  n: number,
  extraEnv: Record<string, string> = {},
  opts: { apiCpus?: string } = {},
): Promise<Cluster> {
  const redis = await startTestRedis();
  const port = await freePort();
  // WORKERS tells each worker how many share this machine (the onnx backend splits the cores).
  const env = {
    REDIS_URL: redis.url,
    KEY_PREFIX: redis.prefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    WORKERS: String(Math.max(1, n)),
    // One client sends thousands of uploads a minute: the submission limit would measure itself.
    RATE_LIMIT_PER_MINUTE: '0',
    ...extraEnv,
  };
  const api = startProcess('api', env, opts.apiCpus);
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
