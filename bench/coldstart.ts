// 5. Cold start: a job waits in the queue; a worker process starts; how long until the job is done.
import { awaitJob, submit } from './lib/client.js';
import { startCluster } from './lib/cluster.js';
import type { Photo } from './lib/photos.js';
import { median } from './lib/stats.js';

export interface ColdStartResult {
  runs: number;
  /** Process spawn → first job completed (server clock), median. */
  medianMs: number;
  samplesMs: number[];
}

export async function benchColdStart(photo: Photo, runs: number): Promise<ColdStartResult> {
  const cluster = await startCluster(0);
  const samples: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const sub = await submit(cluster.apiUrl, photo.bytes, photo.name);
      const spawnedAt = Date.now();
      const worker = cluster.addWorker();
      const done = await awaitJob(cluster.apiUrl, sub);
      samples.push(done.finishedAt - spawnedAt);
      await worker.stop();
      cluster.workers.pop();
    }
  } finally {
    await cluster.close();
  }
  return { runs, medianMs: median(samples), samplesMs: samples };
}
