// 2. End to end: Redis + API + N worker processes; a client submits the photo mix as fast as it is
// accepted and long-polls every job to its end. Also the unloaded overhead: one job at a time.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { awaitJob, submit, type JobDone } from './lib/client.js';
import { cpuSeconds, readyz, startCluster, type Cluster } from './lib/cluster.js';
import type { Photo } from './lib/photos.js';
import { median, percentile, sum } from './lib/stats.js';

export interface E2eRow {
  backend: string;
  workers: number;
  jobs: number;
  imagesPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Median per job of (submit → client sees the end) − processing time, with the queue saturated. */
  loadedOverheadMs: number;
  /** Median detection time per job under this load (the worker's own timing). */
  detectMsP50: number;
  /** CPU used during the run, in % of one core: all workers, the API, Redis, the load generator. */
  cpu: { workers: number; api: number; redis: number; client: number };
  failed: number;
}

export interface OverheadResult {
  jobs: number;
  /** Per job, submit → client sees the end, minus the worker's processing time. */
  overheadMs: { p50: number; p95: number };
  processingMsP50: number;
  overheadRatioP50: number;
  /** Medians of where the overhead goes (same machine, one clock). */
  parts: {
    /** Client sends the upload → 202 received (multipart built, API validates, stores, enqueues). */
    upload: number;
    /** Job enqueued → a worker starts it. */
    pickUp: number;
    /** Worker start → job completed, minus the pipeline's stages (read upload, write result, BullMQ). */
    workerRedis: number;
    /** Job completed → the client's long poll has the answer. */
    notify: number;
  };
  /** One request/reply hop, median ms: back to back, and after the processes sat idle 100 ms. */
  hop: { apiHot: number; apiIdle: number; redisHot: number; redisIdle: number };
}

/** A hop's median time, back to back or after `idleMs` of nothing (as between one job's steps). */
async function hopMs(once: () => Promise<unknown>, idleMs: number, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    if (idleMs) await sleep(idleMs);
    const t = performance.now();
    await once();
    times.push(performance.now() - t);
  }
  return median(times);
}

/**
 * What a hop between two processes costs here, hot and after idling: an idle virtual CPU halts
 * (cpuidle), and each process it wakes pays for it; one job at a time crosses a dozen such hops.
 */
async function hops(cluster: Cluster): Promise<OverheadResult['hop']> {
  const agent = new http.Agent({ keepAlive: true });
  const url = `${cluster.apiUrl}/healthz`;
  const get = () =>
    new Promise<void>((resolve, reject) => {
      http.get(url, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  const redis = new Redis(cluster.redis.url);
  try {
    await get();
    await redis.ping();
    return {
      apiHot: await hopMs(get, 0, 200),
      apiIdle: await hopMs(get, 100, 40),
      redisHot: await hopMs(() => redis.ping(), 0, 200),
      redisIdle: await hopMs(() => redis.ping(), 100, 40),
    };
  } finally {
    agent.destroy();
    redis.disconnect();
  }
}

/** CPU seconds so far of each part of the cluster, and of this process (the load generator). */
function cpuNow(cluster: Cluster) {
  const u = process.cpuUsage();
  return {
    workers: cluster.workers.reduce((a, w) => a + cpuSeconds(w.pid), 0),
    api: cpuSeconds(cluster.api.pid),
    redis: cpuSeconds(cluster.redis.pid()),
    client: (u.user + u.system) / 1e6,
  };
}

async function runLoad(apiUrl: string, mix: Photo[], jobs: number, inFlightSubmits = 4): Promise<JobDone[]> {
  const waits: Promise<JobDone>[] = [];
  let next = 0;
  const submitter = async () => {
    while (next < jobs) {
      const photo = mix[next++ % mix.length]!;
      const sub = await submit(apiUrl, photo.bytes, photo.name);
      waits.push(awaitJob(apiUrl, sub));
    }
  };
  await Promise.all(Array.from({ length: inFlightSubmits }, submitter));
  return Promise.all(waits);
}

export async function benchE2e(
  mix: Photo[],
  runs: { workers: number; backend?: string }[],
  jobsPerRun: number,
): Promise<E2eRow[]> {
  const rows: E2eRow[] = [];
  for (const { workers: n, backend } of runs) {
    const cluster = await startCluster(n, backend ? { TF_BACKEND: backend } : {});
    try {
      await runLoad(cluster.apiUrl, mix, n * 2); // warm every worker
      const t0 = Date.now();
      const cpu0 = cpuNow(cluster);
      const done = await runLoad(cluster.apiUrl, mix, jobsPerRun);
      const cpu1 = cpuNow(cluster);
      const ok = done.filter((d) => d.status === 'completed');
      const elapsed = (Math.max(...done.map((d) => d.seenAt)) - t0) / 1000;
      const share = (k: keyof typeof cpu0) => (100 * (cpu1[k] - cpu0[k])) / ((Date.now() - t0) / 1000);
      const latency = ok.map((d) => d.seenAt - d.sentAt);
      const fleet = (await readyz(cluster.apiUrl))?.workers as { backends?: string[] } | undefined;
      rows.push({
        backend: fleet?.backends?.join('+') ?? '?',
        workers: n,
        jobs: done.length,
        imagesPerSecond: ok.length / elapsed,
        latencyMs: {
          p50: percentile(latency, 50),
          p95: percentile(latency, 95),
          p99: percentile(latency, 99),
        },
        loadedOverheadMs: median(ok.map((d) => d.seenAt - d.sentAt - d.processingMs)),
        detectMsP50: median(ok.map((d) => d.timings.detect ?? NaN)),
        cpu: { workers: share('workers'), api: share('api'), redis: share('redis'), client: share('client') },
        failed: done.length - ok.length,
      });
      process.stderr.write(
        `  e2e ${n} worker(s), ${rows.at(-1)!.backend}: ${rows.at(-1)!.imagesPerSecond.toFixed(2)} images/s\n`,
      );
    } finally {
      await cluster.close();
    }
  }
  return rows;
}

/** One worker, one job at a time: what the service adds around the processing itself. */
export async function benchOverhead(mix: Photo[], jobs: number): Promise<OverheadResult> {
  const cluster = await startCluster(1);
  try {
    await runLoad(cluster.apiUrl, mix, 2, 1);
    const done: JobDone[] = [];
    for (let i = 0; i < jobs; i++) {
      const photo = mix[i % mix.length]!;
      const sub = await submit(cluster.apiUrl, photo.bytes, photo.name);
      done.push(await awaitJob(cluster.apiUrl, sub));
    }
    const overhead = done.map((d) => d.seenAt - d.sentAt - d.processingMs);
    const processing = median(done.map((d) => d.processingMs));
    return {
      jobs,
      overheadMs: { p50: median(overhead), p95: percentile(overhead, 95) },
      processingMsP50: processing,
      overheadRatioP50: median(overhead) / processing,
      parts: {
        upload: median(done.map((d) => d.acceptedAt - d.sentAt)),
        pickUp: median(done.map((d) => d.startedAt - d.createdAt)),
        workerRedis: median(done.map((d) => d.finishedAt - d.startedAt - d.processingMs)),
        notify: median(done.map((d) => d.seenAt - d.finishedAt)),
      },
      hop: await hops(cluster),
    };
  } finally {
    await cluster.close();
  }
}

export const totalProcessing = (done: JobDone[]) => sum(done.map((d) => d.processingMs));
