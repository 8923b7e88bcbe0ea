// Telling the HTTP layer when a job moves: one BullMQ QueueEvents reader per API process (it reads
// the queue's Redis event stream, so it sees jobs that any worker runs for any API process),
// fanned out to the requests watching each job. SSE, long polling and POST /turdify/ all use it.
import type { QueueEvents } from 'bullmq';

export type JobEvent =
  | { type: 'active' }
  | { type: 'progress'; progress: unknown }
  | { type: 'completed' }
  | { type: 'failed'; reason: string }
  | { type: 'removed' }
  /** The API process is shutting down: streams end here (clients reconnect elsewhere). */
  | { type: 'closing' };

export type JobListener = (event: JobEvent) => void;

/** How a job was seen to end: BullMQ's two final states, or gone (removed, unknown). */
export type JobEnd = 'completed' | 'failed' | 'gone';

/** States after which nothing more happens to a job (or it is gone). */
export const isEndState = (state: string) =>
  state === 'completed' || state === 'failed' || state === 'unknown';

export interface JobWatcher {
  /** Calls listener with each event of job id until the returned function is called. */
  subscribe(id: string, listener: JobListener): () => void;
  /**
   * Resolves once the job has ended (or is gone), or after timeoutMs, or when signal aborts;
   * never rejects. The state is re-read now and then, so a missed event only costs a little delay.
   * Resolves with the end seen ('completed', 'failed': from the event or the state read; 'gone':
   * removed or unknown), or undefined when it timed out or was aborted.
   */
  waitForEnd(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobEnd | undefined>;
  /**
   * Shutdown: every subscriber gets `closing`, and waits with `untilClosing` end now (long polls
   * answer with the job as it is); from then on such waits end at once. A wait without it (POST
   * /turdify/, whose answer is the work itself) goes on within SHUTDOWN_TIMEOUT_SECONDS.
   */
  close(): void;
  /** Aborted by close(). */
  readonly closing: AbortSignal;
}

/** Safety net under the event stream: how often a waiter re-reads the job's state. */
const RECHECK_MS = 2000;

/** events: the queue's event stream; getState: the job's current state, for the safety net. */
export function createJobWatcher(events: QueueEvents, getState: (id: string) => Promise<string>): JobWatcher {
  const listeners = new Map<string, Set<JobListener>>();
  const emit = (id: string, event: JobEvent) => {
    for (const l of listeners.get(id) ?? []) l(event);
  };
  events.on('active', ({ jobId }) => emit(jobId, { type: 'active' }));
  events.on('progress', ({ jobId, data }) => emit(jobId, { type: 'progress', progress: data }));
  events.on('completed', ({ jobId }) => emit(jobId, { type: 'completed' }));
  events.on('failed', ({ jobId, failedReason }) => emit(jobId, { type: 'failed', reason: failedReason }));
  events.on('removed', ({ jobId }) => emit(jobId, { type: 'removed' }));

  const subscribe = (id: string, listener: JobListener) => {
    let set = listeners.get(id);
    if (!set) listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) listeners.delete(id);
    };
  };

  const waitForEnd: JobWatcher['waitForEnd'] = (id, timeoutMs, signal) =>
    new Promise<JobEnd | undefined>((resolve) => {
      let done = false;
      const finish = (end?: JobEnd) => {
        if (done) return;
        done = true;
        unsubscribe();
        clearTimeout(timer);
        clearInterval(recheck);
        signal?.removeEventListener('abort', abort);
        resolve(end);
      };
      const abort = () => finish();
      // Subscribe before the first state read, so an end between the two is not missed.
      const unsubscribe = subscribe(id, (e) => {
        if (e.type === 'completed' || e.type === 'failed') finish(e.type);
        else if (e.type === 'removed') finish('gone');
      });
      const check = () =>
        getState(id).then(
          (state) => {
            if (state === 'completed' || state === 'failed') finish(state);
            else if (isEndState(state)) finish('gone');
          },
          () => {},
        );
      const timer = setTimeout(abort, timeoutMs);
      const recheck = setInterval(check, RECHECK_MS);
      signal?.addEventListener('abort', abort);
      if (signal?.aborted) abort();
      else void check();
    });

  const closing = new AbortController();
  const close = () => {
    if (closing.signal.aborted) return;
    closing.abort();
    for (const id of [...listeners.keys()]) emit(id, { type: 'closing' });
  };

  return { subscribe, waitForEnd, close, closing: closing.signal };
}
