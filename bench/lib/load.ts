// Load for benchmarks that count what Redis does per job: every job submitted in turn (each upload
// awaited before the next is sent), all of them awaited with long polls, optionally each result
// downloaded.
import { awaitJob, submit, type JobDone } from './client.js';
import type { Photo } from './photos.js';

export async function submitAll(apiUrl: string, photos: Photo[], jobs: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < jobs; i++) {
    const p = photos[i % photos.length]!;
    ids.push((await submit(apiUrl, p.bytes, p.name)).id);
  }
  return ids;
}

export async function submitAndAwait(apiUrl: string, photos: Photo[], jobs: number): Promise<JobDone[]> {
  const waits: Promise<JobDone>[] = [];
  for (let i = 0; i < jobs; i++) {
    const p = photos[i % photos.length]!;
    waits.push(awaitJob(apiUrl, await submit(apiUrl, p.bytes, p.name)));
  }
  return Promise.all(waits);
}

/** GET /jobs/:id (ended already) and its result, for each id. */
export async function readAll(apiUrl: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    await (await fetch(`${apiUrl}/jobs/${id}?wait=60`)).arrayBuffer();
    await (await fetch(`${apiUrl}/jobs/${id}/result`)).arrayBuffer();
  }
}
