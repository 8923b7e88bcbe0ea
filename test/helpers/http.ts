// Small HTTP helpers for tests that talk to real processes over loopback.
import type { FaceBox } from '../../shared/jobs.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface JobView {
  id: string;
  status: 'queued' | 'active' | 'completed' | 'failed';
  progress: number;
  faces?: FaceBox[];
  result?: { url: string; content_type: string; bytes: number; width: number; height: number };
  error?: { code: string; message: string };
  [key: string]: unknown;
}

/** Polls GET {base}/jobs/{id} until the job ends (completed or failed) or timeoutMs passes. */
export async function pollJob(base: string, id: string, timeoutMs = 60_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${base}/jobs/${id}`);
    if (res.status !== 200) throw new Error(`GET /jobs/${id} answered ${res.status}: ${await res.text()}`);
    const job = (await res.json()) as JobView;
    if (job.status === 'completed' || job.status === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Waits until GET {url} answers 200 (a process finished starting). */
export async function waitHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export async function submitFile(
  base: string,
  bytes: Buffer,
  filename: string,
  field = 'image',
): Promise<Response> {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(bytes)]), filename);
  return fetch(`${base}/jobs`, { method: 'POST', body: form });
}
