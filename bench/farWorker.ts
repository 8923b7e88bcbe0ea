// 10. Workers far from Redis: one worker process in a network namespace of its own, Redis and the
// API (and the load generator) in another, joined by a veth pair (bench/lib/netns.ts). Latency is
// added by a delaying TCP proxy on the worker's side (bench/lib/delayProxy.ts; the kernel here has no
// netem), so every byte between the worker and Redis waits half the round trip each way. The same
// warm worker runs at each RTT in turn, rounds alternating the order; photos/s from the worker's own
// start/finish times (the client's view does not count), medians of the rounds, and the Redis
// commands per job the whole service issued.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisServerArgs } from '../test/helpers/redis.js';
import type { FarClientReport } from './farClient.js';
import { createFarNet } from './lib/netns.js';
import { repoRoot } from './lib/photos.js';
import { perJob } from './lib/redisStats.js';
import { median } from './lib/stats.js';

export interface FarWorkerRow {
  rttMs: number;
  /** Redis PING round trip from the worker's namespace, through the proxy (ms, median). */
  measuredRttMs: number;
  samples: number[];
  photosPerSecond: number;
  /** photosPerSecond ÷ the rate at RTT 0. */
  ratio: number;
  /** Time per job added by the delay (1/rate − 1/rate at RTT 0), ms, and that ÷ the RTT. */
  addedMsPerJob: number;
  roundTripsPerJob: number;
  commandsPerJob: number;
  scriptsPerJob: number;
  topCommands: string;
  failed: number;
}

export interface FarWorkerResult {
  jobsPerRound: number;
  rounds: number;
  rows: FarWorkerRow[];
}

const REDIS_PORT = 6379;
const PROXY_PORT = 6390;
const API_PORT = 8080;

function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
}

/** Median of a few sequential PINGs' round trip from `ns` to host:port (redis-cli, one connection). */
function pingRtt(ns: string, host: string, port: number, expectedMs: number): number {
  const time = (n: number) => {
    const t0 = performance.now();
    spawnSync(
      'ip',
      ['netns', 'exec', ns, 'redis-cli', '-h', host, '-p', String(port), '-r', String(n), 'PING'],
      {
        stdio: 'ignore',
      },
    );
    return performance.now() - t0;
  };
  // Enough PINGs that the difference is not lost in redis-cli's own start-up time.
  const n = expectedMs > 0 ? 20 : 500;
  return Math.max(0, median([0, 1, 2].map(() => (time(n + 1) - time(1)) / n)));
}

export async function benchFarWorker(
  rtts: number[],
  rounds: number,
  jobsPerRound: number,
): Promise<FarWorkerResult> {
  const net = createFarNet();
  const dir = mkdtempSync(join(tmpdir(), 'turdify-far-'));
  const procs: ChildProcess[] = [];
  const node = process.execPath;
  const env = { ...process.env, LOG_LEVEL: 'warn', MALLOC_ARENA_MAX: '2' };
  const serverRedis = `redis://${net.server.ip}:${REDIS_PORT}`;
  const apiUrl = `http://${net.server.ip}:${API_PORT}`;
  try {
    // Reachable only inside our two namespaces; protected mode would refuse the worker's side.
    const args = redisServerArgs(REDIS_PORT, dir, {
      appendonly: false,
      args: ['--bind', net.server.ip, '--protected-mode', 'no'],
    });
    procs.push(net.spawnIn(net.server.ns, ['redis-server', ...args], env));
    for (
      let i = 0;
      spawnSync('ip', ['netns', 'exec', net.server.ns, 'redis-cli', '-u', serverRedis, 'PING']).status;
      i++
    ) {
      if (i > 100) throw new Error('redis-server did not start in the server namespace');
      await sleep(100);
    }
    const apiEnv = {
      ...env,
      REDIS_URL: serverRedis,
      HOST: net.server.ip,
      PORT: String(API_PORT),
      RATE_LIMIT_PER_MINUTE: '0',
    };
    procs.push(net.spawnIn(net.server.ns, [node, join(repoRoot, 'dist/api/main.js')], apiEnv));
    const proxy = net.spawnIn(
      net.worker.ns,
      [
        node,
        '--import',
        'tsx',
        join(repoRoot, 'bench/lib/delayProxy.ts'),
        '127.0.0.1',
        String(PROXY_PORT),
        net.server.ip,
        String(REDIS_PORT),
      ],
      env,
      'pipe',
    );
    procs.push(proxy);
    const proxyLines: string[] = [];
    let heard: (() => void) | undefined;
    lines(proxy, (l) => {
      proxyLines.push(l);
      heard?.();
    });
    const expect = async (line: string) => {
      const deadline = Date.now() + 30_000;
      while (!proxyLines.includes(line)) {
        if (Date.now() > deadline) throw new Error(`the delay proxy did not say "${line}"`);
        await new Promise<void>((res) => {
          heard = res;
          setTimeout(res, 200);
        });
      }
      proxyLines.length = 0;
    };
    await expect('ready');
    // Per-core threads, as each of N workers on N cores gets them (and as the floor is measured).
    const workerEnv = { ...env, REDIS_URL: `redis://127.0.0.1:${PROXY_PORT}`, WORKERS: '2' };
    procs.push(net.spawnIn(net.worker.ns, [node, join(repoRoot, 'dist/worker/main.js')], workerEnv));

    const runClient = async (jobs: number): Promise<FarClientReport> => {
      const child = net.spawnIn(
        net.server.ns,
        [node, '--import', 'tsx', join(repoRoot, 'bench/farClient.ts'), apiUrl, serverRedis, String(jobs)],
        env,
      );
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((res) => child.once('exit', res));
      if (code !== 0) throw new Error(`the far client exited ${code}`);
      return JSON.parse(out.trim().split('\n').at(-1)!) as FarClientReport;
    };
    await runClient(4); // warm the worker (model, caches) and the API
    const samples = new Map<number, { rates: number[]; rtt: number[]; reports: FarClientReport[] }>();
    for (let r = 0; r < rounds; r++) {
      const order = rtts.map((_, i) => rtts[(i + r) % rtts.length]!);
      for (const rtt of order) {
        proxy.stdin!.write(`${rtt}\n`);
        await expect(`rtt ${rtt}`);
        const s = samples.get(rtt) ?? { rates: [], rtt: [], reports: [] };
        samples.set(rtt, s);
        s.rtt.push(pingRtt(net.worker.ns, '127.0.0.1', PROXY_PORT, rtt));
        const report = await runClient(jobsPerRound);
        const ok = report.done.filter((d) => d.status === 'completed');
        const span = Math.max(...ok.map((d) => d.finishedAt)) - Math.min(...ok.map((d) => d.startedAt));
        s.rates.push((1000 * ok.length) / span);
        s.reports.push(report);
        process.stderr.write(`  far worker, RTT ${rtt} ms: ${s.rates.at(-1)!.toFixed(2)} photos/s\n`);
      }
    }
    const base = median(samples.get(rtts[0]!)!.rates);
    return {
      jobsPerRound,
      rounds,
      rows: rtts.map((rtt) => {
        const s = samples.get(rtt)!;
        const jobs = s.reports.reduce((a, x) => a + x.done.length, 0);
        const calls = s.reports.reduce((a, x) => a + x.redis.totalCalls, 0);
        const scripts = s.reports.reduce((a, x) => a + x.redis.scripts, 0);
        const last = s.reports.at(-1)!;
        return {
          rttMs: rtt,
          measuredRttMs: median(s.rtt),
          samples: s.rates,
          photosPerSecond: median(s.rates),
          ratio: median(s.rates) / base,
          addedMsPerJob: 1000 / median(s.rates) - 1000 / base,
          roundTripsPerJob: rtt > 0 ? (1000 / median(s.rates) - 1000 / base) / rtt : NaN,
          commandsPerJob: calls / jobs,
          scriptsPerJob: scripts / jobs,
          topCommands: perJob(last.redis, last.done.length, 6),
          failed: s.reports.reduce((a, x) => a + x.done.filter((d) => d.status !== 'completed').length, 0),
        };
      }),
    };
  } finally {
    for (const p of procs.reverse()) await stop(p);
    net.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
