// The asynchronous API: submit a job, poll it, fetch its result, delete it; and the emoji catalogue.
import { Router, type Request } from 'express';
import type { Job } from 'bullmq';
import { DEFAULT_EMOJI, EMOJIS } from '../../shared/emojis.js';
import { JOB_ID_PATTERN, newJobId, type TurdifyJobData, type TurdifyJobResult } from '../../shared/jobs.js';
import { parseFailure } from '../../shared/errors.js';
import { baseUrl, type ApiDeps } from '../deps.js';
import { inspectImage } from '../inspectImage.js';
import { jobView, publicStatus } from '../jobView.js';
import { parseOptions } from '../options.js';
import { HttpProblem, isRedisUnavailable } from '../problem.js';
import { formFields, imageUpload, uploadedBytes } from '../upload.js';

type TurdifyJob = Job<TurdifyJobData, TurdifyJobResult>;

const notFound = (id: string) =>
  new HttpProblem(
    404,
    'job-not-found',
    'Not Found',
    `no job with id "${id}" (it may have expired or been deleted)`,
  );

/** Submits a job: stores the bytes, then enqueues; the stored input is removed if enqueueing fails. */
export async function submitJob(
  deps: ApiDeps,
  data: Omit<TurdifyJobData, 'v' | 'submittedAt'>,
  bytes: Buffer,
) {
  const id = newJobId();
  await deps.store.putInput(id, bytes);
  try {
    const job = await deps.queue.add('turdify', { v: 1, ...data, submittedAt: Date.now() }, { jobId: id });
    return job as TurdifyJob;
  } catch (err) {
    await deps.store.deleteInput(id).catch(() => {});
    throw err;
  }
}

export function jobsRouter(deps: ApiDeps): Router {
  const { config, queue, store, redis, keys } = deps;
  const router = Router();

  /** The job and its state, unless the id is malformed, unknown, or cancelled (all 404). */
  async function findJob(req: Request): Promise<{ id: string; job: TurdifyJob; state: string }> {
    const id = String(req.params.id);
    if (!JOB_ID_PATTERN.test(id)) throw notFound(id);
    // State first, then the record: a job seen "completed" is then read with its return value
    // (the move and the return value are written together; two reads are not atomic).
    const state = await queue.getJobState(id);
    const [job, cancelled] = await Promise.all([queue.getJob(id), redis.exists(keys.cancelled(id))]);
    if (!job || cancelled) throw notFound(id);
    return { id, job: job as TurdifyJob, state };
  }

  router.post('/jobs', imageUpload('image', config.MAX_UPLOAD_BYTES, true), async (req, res) => {
    const bytes = uploadedBytes(req, 'image');
    const info = await inspectImage(bytes, { maxPixels: config.MAX_PIXELS });
    const options = parseOptions(req.query, formFields(req), {
      minConfidence: config.MIN_CONFIDENCE,
      inputFormat: info.format,
    });
    const job = await submitJob(deps, { options, input: { ...info, bytes: bytes.length } }, bytes);
    req.log?.info({ jobId: job.id, format: info.format, bytes: bytes.length }, 'job accepted');
    res
      .status(202)
      .location(`/jobs/${job.id}`)
      .set('Retry-After', '1')
      .set('Cache-Control', 'no-store')
      .json(jobView(job, 'waiting', baseUrl(config, req)));
  });

  router.get('/jobs/:id', async (req, res) => {
    const { job, state } = await findJob(req);
    const view = jobView(job, state, baseUrl(config, req));
    if (view.status !== 'completed' && view.status !== 'failed') res.set('Retry-After', '1');
    res.set('Cache-Control', 'no-store').json(view);
  });

  router.get('/jobs/:id/result', async (req, res) => {
    const { id, job, state } = await findJob(req);
    const status = publicStatus(state);
    if (status !== 'completed' || !job.returnvalue) {
      const extensions: Record<string, unknown> = { job_id: id, status };
      if (status === 'failed') extensions.error = parseFailure(job.failedReason);
      throw new HttpProblem(
        409,
        'result-not-ready',
        'Conflict',
        status === 'failed'
          ? 'the job failed; it has no result'
          : `the job is ${status}; its result is not ready yet`,
        { extensions, headers: status === 'failed' ? {} : { 'Retry-After': '1' } },
      );
    }
    const meta = job.returnvalue.result;
    const gone = () =>
      new HttpProblem(404, 'result-expired', 'Not Found', 'the result image has expired or been deleted', {
        extensions: { job_id: id },
      });
    res.set({
      ETag: meta.etag,
      'Cache-Control': 'private, max-age=0, must-revalidate',
      'Content-Disposition': `inline; filename="turdified-${id}.${meta.format === 'jpeg' ? 'jpg' : meta.format}"`,
    });
    if (etagMatches(req.get('if-none-match'), meta.etag)) {
      if (!(await redis.exists(keys.result(id)))) throw gone();
      res.status(304).end();
      return;
    }
    const bytes = await store.getResult(id);
    if (!bytes) throw gone();
    res.status(200).type(meta.contentType).set('Content-Length', String(bytes.length));
    if (req.method === 'HEAD') res.end();
    else res.end(bytes);
  });

  router.delete('/jobs/:id', async (req, res) => {
    const { id, job } = await findJob(req);
    try {
      await job.remove();
    } catch (err) {
      if (isRedisUnavailable(err)) throw err;
      // Locked by a worker (running): flag it so the worker discards its result; hide it from now on.
      await redis.set(keys.cancelled(id), '1', 'EX', Math.ceil(config.RESULT_TTL_SECONDS));
      req.log?.info({ jobId: id, err: (err as Error).message }, 'job running; marked cancelled');
    }
    await store.deleteAll(id);
    res.status(204).end();
  });

  router.get('/emojis', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json({
      emojis: EMOJIS.map((e) => ({
        name: e.name,
        description: e.description,
        default: e.name === DEFAULT_EMOJI,
      })),
    });
  });

  return router;
}

/** If-None-Match against a strong ETag, with the weak comparison RFC 9110 prescribes for it. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => strip(t) === strip(etag));
}
