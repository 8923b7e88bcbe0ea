// Finding a job by the id in a URL: the one place that decides what "not found" means.
import type { Job } from 'bullmq';
import type { Response } from 'express';
import { JOB_ID_PATTERN, type TurdifyJobData, type TurdifyJobResult } from '../shared/jobs.js';
import type { ApiDeps } from './deps.js';
import type { JobEnd } from './jobWatch.js';
import { HttpProblem } from './problem.js';

export type TurdifyJob = Job<TurdifyJobData, TurdifyJobResult>;

export const jobNotFound = (id: string) =>
  new HttpProblem(
    404,
    'job-not-found',
    'Not Found',
    `no job with id "${id}" (it may have expired or been deleted)`,
  );

/**
 * The job and its state, unless the id is malformed, unknown, cancelled, or another client's (all
 * the same 404: nobody learns that someone else's job exists). `owner` is the asking API key's id.
 */
export async function lookupJob(
  deps: Pick<ApiDeps, 'queue' | 'redis' | 'keys'>,
  id: string,
  owner: string | undefined,
  end?: JobEnd,
): Promise<{ id: string; job: TurdifyJob; state: string }> {
  if (!JOB_ID_PATTERN.test(id)) throw jobNotFound(id);
  // A final state already seen (the watcher's event) is final: the record alone, one round trip
  // fewer, trusted when it carries that end (finishedOn, and the return value or the reason).
  // Otherwise state first, then the record: a job seen "completed" is then read with its return
  // value (the move and the return value are written together; two reads are not atomic).
  const known = end === 'completed' || end === 'failed' ? end : undefined;
  const state = known ?? (await deps.queue.getJobState(id));
  const [job, cancelled] = await Promise.all([
    deps.queue.getJob(id),
    deps.redis.exists(deps.keys.cancelled(id)),
  ]);
  if (!job || cancelled || job.data.owner !== owner) throw jobNotFound(id);
  if (known && !endRecorded(job as TurdifyJob, known)) return lookupJob(deps, id, owner);
  return { id, job: job as TurdifyJob, state };
}

const endRecorded = (job: TurdifyJob, end: 'completed' | 'failed') =>
  Boolean(job.finishedOn) && (end === 'completed' ? job.returnvalue != null : Boolean(job.failedReason));

/**
 * Waits up to timeoutMs for the job to end (long poll, POST /turdify/), then looks it up again.
 * Undefined when the client went away first: there is no one left to answer (the job goes on).
 * `untilClosing`: the wait also ends when the API starts shutting down (a long poll answers then).
 */
export async function lookupJobWhenEnded(
  deps: Pick<ApiDeps, 'queue' | 'redis' | 'keys' | 'watcher'>,
  id: string,
  owner: string | undefined,
  timeoutMs: number,
  res: Response,
  opts: { untilClosing?: boolean } = {},
): Promise<{ id: string; job: TurdifyJob; state: string } | undefined> {
  const gone = new AbortController();
  res.on('close', () => gone.abort());
  const stop = opts.untilClosing ? AbortSignal.any([gone.signal, deps.watcher.closing]) : gone.signal;
  const end = await deps.watcher.waitForEnd(id, timeoutMs, stop);
  return gone.signal.aborted ? undefined : lookupJob(deps, id, owner, end);
}
