// 2. End to end: Redis + API + N worker processes; a client submits the photo mix as fast as it is
// accepted and long-polls every job to its end. Also the unloaded overhead: one job at a time.
import { awaitJob, submit, type JobDone } from './lib/client.js';
import { readyz, startCluster } from './lib/cluster.js';
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
  failed: number;
}

export interface OverheadResult {
  jobs: number;
  /** Per job, submit → client sees the end, minus the worker's processing time. */
  overheadMs: { p50: number; p95: number };
  processingMsP50: number;
  overheadRatioP50: number;
}

async function runLoad(apiUrl: string, mix: Photo[], jobs: number, inFlightSubmits = 4): Promise<JobDone[]> {
  const waits: Promise<JobDone>[] = [];
  let next = 0;
  const submitter = async () => {
    while (next < jobs) {
      const photo = mix[next++ % mix.length]!;
      const { id, sentAt } = await submit(apiUrl, photo.bytes, photo.name);
      waits.push(awaitJob(apiUrl, id, sentAt));
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
      const done = await runLoad(cluster.apiUrl, mix, jobsPerRun);
      const ok = done.filter((d) => d.status === 'completed');
      const elapsed = (Math.max(...done.map((d) => d.seenAt)) - t0) / 1000;
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
      const { id, sentAt } = await submit(cluster.apiUrl, photo.bytes, photo.name);
      done.push(await awaitJob(cluster.apiUrl, id, sentAt));
    }
    const overhead = done.map((d) => d.seenAt - d.sentAt - d.processingMs);
    const processing = median(done.map((d) => d.processingMs));
    return {
      jobs,
      overheadMs: { p50: median(overhead), p95: percentile(overhead, 95) },
      processingMsP50: processing,
      overheadRatioP50: median(overhead) / processing,
    };
  } finally {
    await cluster.close();
  }
}

export const totalProcessing = (done: JobDone[]) => sum(done.map((d) => d.processingMs));
