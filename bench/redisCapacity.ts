// 11. What one Redis sustains for this workload. (a) The Redis commands one job costs, split by who
// issues them: the API accepting the uploads (queue paused, no worker running them), the worker
// running them (queue resumed, nobody polling), and the client reading the ended jobs and results.
// (b) Redis CPU time per job: under the real service (2 workers, fixture mix), and under many API
// processes and fake workers (no model: each job completes at once with a tiny result) pushing as
// many jobs as this machine can; jobs/s at 100 % of one Redis core = 1 ÷ CPU per job.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../shared/config.js';
import { QUEUE_NAME } from '../shared/keys.js';
import { startFakeWorker } from '../test/helpers/fakeWorker.js';
import { freePort } from '../test/helpers/redis.js';
import { awaitJob, submit } from './lib/client.js';
import { cpuSeconds, startCluster, startProcess, waitForWorkers, type Cluster } from './lib/cluster.js';
import { readAll, submitAll, submitAndAwait } from './lib/load.js';
import type { Photo } from './lib/photos.js';
import { redisDelta, redisStats, type RedisDelta } from './lib/redisStats.js';

export interface CommandSplit {
  jobs: number;
  /** Per job: commands, Lua scripts, and the top commands of each phase. */
  phases: {
    phase: string;
    commands: number;
    scripts: number;
    top: string;
    bytesIn: number;
    bytesOut: number;
  }[];
}

export interface LoadRow {
  load: string;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  /** CPU in % of one core over the run. */
  redisCpu: number;
  apiCpu: number;
  /** Redis CPU ms per job (INFO cpu), and commandstats' execution time alone, µs per job. */
  redisCpuMsPerJob: number;
  commandUsecPerJob: number;
  commandsPerJob: number;
  /** Redis network bytes per job, in and out (KB). */
  netInKB: number;
  netOutKB: number;
  /** 1000 ÷ redisCpuMsPerJob. */
  jobsPerRedisCore: number;
  /** The commands taking most of the execution time: "name µs per job". */
  topByTime: string;
}

export interface RedisCapacityResult {
  split: CommandSplit;
  loads: LoadRow[];
}

const top = (d: RedisDelta, jobs: number) =>
  Object.entries(d.calls)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([k, n]) => `${k} ${(n / jobs).toFixed(1)}`)
    .join(', ');

async function commandSplit(photos: Photo[], jobs: number): Promise<CommandSplit> {
  const cluster = await startCluster(1);
  const redis = new Redis(cluster.redis.url);
  // BullMQ leaves a connection it is given open: ours to close.
  const queueConnection = redis.duplicate();
  const queue = new Queue(QUEUE_NAME, { connection: queueConnection, prefix: cluster.redis.prefix });
  try {
    await queue.pause();
    const s0 = await redisStats(redis);
    const ids = await submitAll(cluster.apiUrl, photos, jobs);
    const s1 = await redisStats(redis);
    await queue.resume();
    // Our own polling is one ZCARD a time: taken off the worker's count below.
    let polls = 0;
    const completed = `${cluster.redis.prefix}:${QUEUE_NAME}:completed`;
    while ((await redis.zcard(completed)) < jobs) {
      polls++;
      await new Promise((r) => setTimeout(r, 50));
    }
    polls++;
    const s2 = await redisStats(redis);
    await readAll(cluster.apiUrl, ids);
    const s3 = await redisStats(redis);
    const worker = redisDelta(s1, s2);
    worker.calls.zcard = (worker.calls.zcard ?? 0) - polls;
    worker.totalCalls -= polls;
    const phases = [
      { phase: 'API: accept the uploads (POST /jobs)', d: redisDelta(s0, s1) },
      { phase: 'worker: run the jobs (and the API following their events)', d: worker },
      { phase: 'client: read each ended job and its result', d: redisDelta(s2, s3) },
    ];
    return {
      jobs,
      phases: phases.map(({ phase, d }) => ({
        phase,
        commands: d.totalCalls / jobs,
        scripts: d.scripts / jobs,
        top: top(d, jobs),
        bytesIn: d.netIn / jobs,
        bytesOut: d.netOut / jobs,
      })),
    };
  } finally {
    await queue.close();
    queueConnection.disconnect();
    redis.disconnect();
    await cluster.close();
  }
}

/** Runs `load` and reports what Redis (and the API processes) spent on it. */
async function measured(
  label: string,
  cluster: Cluster,
  apiPids: number[],
  load: () => Promise<number>,
): Promise<LoadRow> {
  const redis = new Redis(cluster.redis.url);
  try {
    const apiCpu0 = apiPids.reduce((a, p) => a + cpuSeconds(p), 0);
    const s0 = await redisStats(redis);
    const t0 = performance.now();
    const jobs = await load();
    const seconds = (performance.now() - t0) / 1000;
    const d = redisDelta(s0, await redisStats(redis));
    // Redis's own getrusage (INFO cpu), finer than /proc's clock ticks over a short run.
    const redisCpuS = d.cpuSeconds;
    const apiCpuS = apiPids.reduce((a, p) => a + cpuSeconds(p), 0) - apiCpu0;
    const msPerJob = (1000 * redisCpuS) / jobs;
    const row: LoadRow = {
      load: label,
      jobs,
      seconds,
      jobsPerSecond: jobs / seconds,
      redisCpu: (100 * redisCpuS) / seconds,
      apiCpu: (100 * apiCpuS) / seconds,
      redisCpuMsPerJob: msPerJob,
      commandUsecPerJob: d.totalUsec / jobs,
      commandsPerJob: d.totalCalls / jobs,
      netInKB: d.netIn / jobs / 1024,
      netOutKB: d.netOut / jobs / 1024,
      jobsPerRedisCore: 1000 / msPerJob,
      topByTime: Object.entries(d.usec)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([k, us]) => `${k} ${Math.round(us / jobs)}`)
        .join(', '),
    };
    process.stderr.write(
      `  redis ${label}: ${row.jobsPerSecond.toFixed(1)} jobs/s, Redis ${row.redisCpu.toFixed(0)} % CPU, ${msPerJob.toFixed(2)} ms/job\n`,
    );
    return row;
  } finally {
    redis.disconnect();
  }
}

/** The real service: 2 workers, the fixture mix, every job long-polled (as the e2e section). */
async function realLoad(photos: Photo[], jobs: number): Promise<LoadRow> {
  const cluster = await startCluster(2);
  try {
    await submitAndAwait(cluster.apiUrl, photos, 4);
    return await measured('2 workers, fixture mix', cluster, [cluster.api.pid], async () => {
      const done = await submitAndAwait(cluster.apiUrl, photos, jobs);
      return done.filter((d) => d.status === 'completed').length;
    });
  } finally {
    await cluster.close();
  }
}

/**
 * No model: `apis` API processes, `fakeWorkers` BullMQ workers in this process completing each job at
 * once, `clients` loops each submitting a small photo, long-polling it and downloading the result.
 */
async function fakeLoad(photo: Photo, seconds: number, apis: number, fakeWorkers: number, clients: number) {
  const cluster = await startCluster(0);
  const extra = await Promise.all(
    Array.from({ length: apis - 1 }, async () => {
      const port = await freePort();
      return {
        proc: startProcess('api', { ...cluster.env, PORT: String(port) }),
        url: `http://127.0.0.1:${port}`,
      };
    }),
  );
  const urls = [cluster.apiUrl, ...extra.map((e) => e.url)];
  const config = loadConfig({ ...cluster.env });
  const fakes = await Promise.all(Array.from({ length: fakeWorkers }, () => startFakeWorker(config)));
  try {
    for (const url of urls) await waitForWorkers(url, 0);
    const pids = [cluster.api.pid, ...extra.map((e) => e.proc.pid)];
    const label = `${apis} APIs, ${fakeWorkers}×4 fake workers, ${clients} clients`;
    return await measured(label, cluster, pids, async () => {
      let jobs = 0;
      const until = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          const url = urls[c % urls.length]!;
          while (performance.now() < until) {
            const done = await awaitJob(url, await submit(url, photo.bytes, photo.name));
            await (await fetch(`${url}/jobs/${done.id}/result`)).arrayBuffer();
            if (done.status === 'completed') jobs++;
          }
        }),
      );
      return jobs;
    });
  } finally {
    await Promise.all(fakes.map((f) => f.close()));
    await Promise.all(extra.map((e) => e.proc.stop()));
    await cluster.close();
  }
}

export async function benchRedisCapacity(photos: Photo[], quick: boolean): Promise<RedisCapacityResult> {
  const split = await commandSplit(photos, quick ? photos.length : 4 * photos.length);
  const small = [...photos].sort((a, b) => a.bytes.length - b.bytes.length)[0]!;
  const loads = [
    await realLoad(photos, quick ? 2 * photos.length : 6 * photos.length),
    await fakeLoad(small, quick ? 3 : 10, 2, 4, 32),
  ];
  return { split, loads };
}
