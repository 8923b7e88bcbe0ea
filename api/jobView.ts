// The JSON representation of a job, as GET /jobs/:id (and POST /jobs) answer it.
import type { Job } from 'bullmq';
import { optionsView } from '../shared/covers.js';
import { parseFailure } from '../shared/errors.js';
import type { TurdifyJobData, TurdifyJobResult } from '../shared/jobs.js';

export type PublicStatus = 'queued' | 'active' | 'completed' | 'failed';

export function publicStatus(state: string): PublicStatus {
  if (state === 'active' || state === 'completed' || state === 'failed') return state;
  return 'queued';
}

const iso = (ms: number | undefined | null): string | null =>
  typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;

export function progressOf(raw: unknown, status: PublicStatus): number {
  if (status === 'completed') return 100;
  let n = 0;
  if (typeof raw === 'number') n = raw;
  else if (raw && typeof raw === 'object' && typeof (raw as { percent?: unknown }).percent === 'number') {
    n = (raw as { percent: number }).percent;
  }
  if (!Number.isFinite(n)) return 0;
  return Math.max(0, Math.min(100, Math.round(n)));
}

export function jobUrls(baseUrl: string, id: string) {
  const self = `${baseUrl}/jobs/${id}`;
  return { self, result: `${self}/result` };
}

export function jobView(
  job: Job<TurdifyJobData, TurdifyJobResult>,
  state: string,
  baseUrl: string,
): Record<string, unknown> {
  const id = job.id ?? '';
  const status = publicStatus(state);
  const data = job.data;
  const links = jobUrls(baseUrl, id);
  const view: Record<string, unknown> = {
    id,
    status,
    progress: progressOf(job.progress, status),
    created_at: iso(data.submittedAt ?? job.timestamp),
    started_at: iso(job.processedOn),
    finished_at: status === 'completed' || status === 'failed' ? iso(job.finishedOn) : null,
    attempts: job.attemptsMade,
    options: optionsView(data.options),
    input: {
      format: data.input.format,
      width: data.input.width,
      height: data.input.height,
      bytes: data.input.bytes,
    },
    links,
  };
  if (status === 'completed' && job.returnvalue) {
    const rv = job.returnvalue;
    view.faces = rv.faces;
    view.result = {
      url: links.result,
      content_type: rv.result.contentType,
      bytes: rv.result.bytes,
      width: rv.result.width,
      height: rv.result.height,
    };
    view.timings = rv.timings;
    view.backend = rv.backend;
    view.detector = rv.detector;
  }
  if (status === 'failed') view.error = parseFailure(job.failedReason);
  return view;
}
