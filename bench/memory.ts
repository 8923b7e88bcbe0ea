// 4. Memory: peak RSS of the API and of one worker over many jobs; the worker's RSS and live
// tensors early on and at the end (growth would be a leak).
import { awaitJob, submit } from './lib/client.js';
import { readyz, rss, startCluster } from './lib/cluster.js';
import type { Photo } from './lib/photos.js';

export interface MemoryResult {
  jobs: number;
  /** The API's resident memory once started, before any upload. */
  apiIdleMB: number;
  apiPeakMB: number;
  workerPeakMB: number;
  workerAfterWarmupMB: number;
  workerAtEndMB: number;
  tensorsAfterWarmup: number;
  tensorsAtEnd: number;
}

const tensors = async (apiUrl: string) => {
  const r = await readyz(apiUrl);
  const list = (r?.workers as { list?: { tensors?: number }[] } | undefined)?.list ?? [];
  return Number(list[0]?.tensors ?? NaN);
};

export async function benchMemory(
  mix: Photo[],
  jobs: number,
  env: Record<string, string> = {},
  heartbeatSeconds = 1,
): Promise<MemoryResult> {
  const cluster = await startCluster(1, { WORKER_HEARTBEAT_SECONDS: String(heartbeatSeconds), ...env });
  const worker = cluster.workers[0]!;
  const apiIdleMB = rss(cluster.api.pid).now;
  try {
    const run = async (count: number, offset: number) => {
      const waits = [];
      for (let i = 0; i < count; i++) {
        const p = mix[(offset + i) % mix.length]!;
        const sub = await submit(cluster.apiUrl, p.bytes, p.name);
        waits.push(awaitJob(cluster.apiUrl, sub));
      }
      await Promise.all(waits);
      await new Promise((r) => setTimeout(r, heartbeatSeconds * 1000 + 200)); // a fresh heartbeat
    };
    const warm = Math.min(20, jobs);
    await run(warm, 0);
    const early = { rss: rss(worker.pid).now, tensors: await tensors(cluster.apiUrl) };
    await run(jobs - warm, warm);
    return {
      jobs,
      apiIdleMB,
      apiPeakMB: rss(cluster.api.pid).peak,
      workerPeakMB: rss(worker.pid).peak,
      workerAfterWarmupMB: early.rss,
      workerAtEndMB: rss(worker.pid).now,
      tensorsAfterWarmup: early.tensors,
      tensorsAtEnd: await tensors(cluster.apiUrl),
    };
  } finally {
    await cluster.close();
  }
}

export interface ArenaRow {
  mallocArenaMax: string;
  jobs: number;
  workerPeakMB: number;
  workerAtEndMB: number;
}

/**
 * One worker on the 10 MP photo, one job at a time, with glibc's default number of malloc arenas and
 * with MALLOC_ARENA_MAX=2 (what npm start and the images set): its resident memory.
 */
export async function benchArenas(photo: Photo, jobs: number): Promise<ArenaRow[]> {
  const rows: ArenaRow[] = [];
  for (const setting of ['unset', '2']) {
    const cluster = await startCluster(1, { MALLOC_ARENA_MAX: setting });
    const worker = cluster.workers[0]!;
    try {
      for (let i = 0; i < jobs; i++) {
        await awaitJob(cluster.apiUrl, await submit(cluster.apiUrl, photo.bytes, photo.name));
      }
      const mem = rss(worker.pid);
      rows.push({ mallocArenaMax: setting, jobs, workerPeakMB: mem.peak, workerAtEndMB: mem.now });
      process.stderr.write(`  memory MALLOC_ARENA_MAX=${setting}: worker peak ${mem.peak.toFixed(0)} MB\n`);
    } finally {
      await cluster.close();
    }
  }
  return rows;
}
