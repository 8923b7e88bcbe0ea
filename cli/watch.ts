// Waiting for a job: its Server-Sent Events (GET /jobs/:id/events) give progress as it happens for
// one idle connection per job, where polling would cost a request a second and show no progress.
// A stream that drops, or goes quiet past three keep-alives, is opened again: its first event is
// always the job's current state, so nothing is lost. A server (or proxy) that does not stream
// gets long polls (GET /jobs/:id?wait=30) instead.
import { setTimeout as sleep } from 'node:timers/promises';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { z } from 'zod';
import { ApiError, errorOf, parseJob, type ApiClient, type JobView } from './api.js';

/** The server sends a keep-alive every 15 s (api/routes/events.ts). */
const IDLE_MS = 45_000;
const RECONNECT_MS = 2_000;
/** Reconnections in a row without an event before giving up: about half a minute. */
const MAX_DROPS = 15;
const LONG_POLL_SECONDS = 30;

export type Update = { status: 'queued' | 'active'; progress: number };

const progressSchema = z.object({ progress: z.number() });

const ended = (job: JobView) => job.status === 'completed' || job.status === 'failed';

async function longPoll(api: ApiClient, id: string, onUpdate: (u: Update) => void): Promise<JobView> {
  for (;;) {
    const job = await api.getJob(id, LONG_POLL_SECONDS);
    if (ended(job)) return job;
    onUpdate({ status: job.status as Update['status'], progress: job.progress ?? 0 });
  }
}

/** Resolves with the ended job (completed or failed); rejects if it is deleted or the server is gone. */
export async function waitForJob(
  api: ApiClient,
  id: string,
  onUpdate: (u: Update) => void,
): Promise<JobView> {
  let drops = 0;
  for (;;) {
    const abort = new AbortController();
    let idle = setTimeout(() => abort.abort(), IDLE_MS);
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(), IDLE_MS);
    };
    try {
      const res = await fetch(`${api.server}/jobs/${encodeURIComponent(id)}/events`, {
        headers: api.headers({ Accept: 'text/event-stream' }),
        signal: abort.signal,
      });
      if (!res.ok) {
        const error = await errorOf(res);
        if (res.status !== 503) throw error; // 404: deleted, expired or not ours
      } else if (!res.headers.get('content-type')?.startsWith('text/event-stream') || !res.body) {
        await res.body?.cancel();
        return await longPoll(api, id, onUpdate);
      } else {
        const events = res.body
          .pipeThrough(new TextDecoderStream())
          .pipeThrough(new EventSourceParserStream({ onComment: alive }));
        for await (const msg of events) {
          alive();
          drops = 0;
          const data: unknown = JSON.parse(msg.data);
          if (msg.event === 'removed') throw new ApiError('the job was deleted before it ended');
          if (msg.event === 'progress') {
            const progress = progressSchema.safeParse(data);
            if (progress.success) onUpdate({ status: 'active', progress: progress.data.progress });
          } else if (msg.event === 'active') {
            onUpdate({ status: 'active', progress: 0 });
          } else if (msg.event === 'state' || msg.event === 'completed' || msg.event === 'failed') {
            const job = parseJob(data);
            if (ended(job)) return job;
            onUpdate({ status: job.status as Update['status'], progress: job.progress ?? 0 });
          }
        }
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      // Dropped, went quiet, or could not connect: open it again below.
    } finally {
      clearTimeout(idle);
      abort.abort();
    }
    if (++drops > MAX_DROPS) {
      throw new ApiError(`lost the job's event stream at ${api.server} ${MAX_DROPS} times in a row`);
    }
    await sleep(RECONNECT_MS);
  }
}
