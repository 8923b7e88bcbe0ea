// The asynchronous API: submit a job, poll it, fetch its result, delete it.
import { Router, type Request } from 'express';
import { newJobId, type TurdifyJobData } from '../../shared/jobs.js';
import { parseFailure } from '../../shared/errors.js';
import { baseUrl, type ApiDeps } from '../deps.js';
import { inspectImage } from '../inspectImage.js';
import { jobView, publicStatus } from '../jobView.js';
import { invalidOption, numberIn, parseOptions } from '../options.js';
import { HttpProblem, isRedisUnavailable } from '../problem.js';
import { isEndState } from '../jobWatch.js';
import { lookupJob, lookupJobWhenEnded, type TurdifyJob } from '../jobLookup.js';
import { CallbackRefused, checkCallbackUrl, policyFromConfig } from '../../shared/callbackPolicy.js';
import { readDelivery } from '../../shared/webhooks.js';
import { formFields, imageUpload, uploadedBytes } from '../upload.js';
import { BudgetRefusal, reservedBytes } from '../../shared/memoryBudget.js';
import { clientOf } from '../auth.js';
import { claimIdempotencyKey, idempotencyKeyOf, requestFingerprint } from '../idempotency.js';
import { markJobCreated } from '../limits.js';

/** Longest GET /jobs/:id?wait=N, in seconds. */
export const MAX_WAIT_SECONDS = 60;

/** GET /jobs/:id?wait=N (also in the OpenAPI document). */
export const waitSchema = numberIn(0, MAX_WAIT_SECONDS).meta({
  description: `Long poll: answer as soon as the job ends, or after this many seconds (0–${MAX_WAIT_SECONDS}) with what it is then.`,
});

/** Submits a job: stores the bytes, then enqueues; the stored input is removed if enqueueing fails. */
export async function submitJob(
  deps: ApiDeps,
  data: Omit<TurdifyJobData, 'v' | 'submittedAt'>,
  bytes: Buffer,
) {
  const id = newJobId();
  // Admission by bytes and by Redis memory, room for the result included (memoryBudget.ts), and
  // the queue's length read in the same round trip: a full queue then removes the stored upload.
  const [count, put] = await Promise.allSettled([
    deps.queue.getWaitingCount(),
    deps.store.putInput(id, bytes, reservedBytes(data.input, data.options.format)),
  ]);
  if (put.status === 'rejected') {
    throw put.reason instanceof BudgetRefusal ? refusalProblem(put.reason) : put.reason;
  }
  if (count.status === 'rejected') {
    await deps.store.deleteInput(id).catch(() => {});
    throw count.reason;
  }
  // Backpressure: past the limit, say when to come back instead of filling Redis.
  const waiting = count.value;
  if (waiting >= deps.config.MAX_QUEUED_JOBS) {
    await deps.store.deleteInput(id).catch(() => {});
    throw new HttpProblem(
      503,
      'queue-full',
      'Service Unavailable',
      `${waiting} jobs are waiting for a worker (the limit is ${deps.config.MAX_QUEUED_JOBS}); try again later`,
      {
        headers: { 'Retry-After': '5' },
        extensions: { waiting, max_queued_jobs: deps.config.MAX_QUEUED_JOBS },
      },
    );
  }
  try {
    const job = await deps.queue.add('turdify', { v: 1, ...data, submittedAt: Date.now() }, { jobId: id });
    return job as TurdifyJob;
  } catch (err) {
    await deps.store.deleteInput(id).catch(() => {});
    throw err;
  }
}

/** The budget's refusal as the client sees it: 503 with Retry-After and the figures (413 if never). */
function refusalProblem({ reason, bytes, usage: u }: BudgetRefusal): HttpProblem {
  const figures = {
    bytes,
    queued_bytes: u.queuedBytes,
    queued_jobs: u.queuedJobs,
    max_queued_bytes: u.maxQueuedBytes,
    reserved_bytes: u.reservedBytes,
    redis_used_memory: u.usedMemory,
    redis_maxmemory: u.maxMemory,
  };
  if (reason === 'too-large') {
    return new HttpProblem(
      413,
      'payload-too-large',
      'Payload Too Large',
      `the upload (${bytes} bytes) is larger than the queue's bound (${u.maxQueuedBytes} bytes, MAX_QUEUED_BYTES)`,
      { extensions: figures },
    );
  }
  if (reason === 'queue-full') {
    return new HttpProblem(
      503,
      'queue-full',
      'Service Unavailable',
      `${u.queuedBytes} bytes of uploads are waiting for a worker; ${bytes} more would pass the limit of ${u.maxQueuedBytes}; try again later`,
      { headers: { 'Retry-After': '5' }, extensions: figures },
    );
  }
  // Memory held by results frees only as they expire or are deleted; queued work frees it sooner.
  return new HttpProblem(
    503,
    'storage-full',
    'Service Unavailable',
    `the job store (Redis) is near its memory limit (${u.usedMemory} of ${u.maxMemory} bytes used, ${u.reservedBytes} reserved for results being made); try again later`,
    { headers: { 'Retry-After': u.queuedJobs > 0 ? '5' : '60' }, extensions: figures },
  );
}

export function jobsRouter(deps: ApiDeps): Router {
  const { config, store, redis, keys } = deps;
  const router = Router();
  const findJob = (req: Request) => lookupJob(deps, String(req.params.id), clientOf(req).owner);

  /** Validates the upload and its options, then stores and enqueues it. */
  const accept = async (req: Request, bytes: Buffer, base: string) => {
    const info = await inspectImage(bytes, { maxPixels: config.MAX_PIXELS });
    const { options, callbackUrl } = parseOptions(req.query, formFields(req), {
      minConfidence: config.MIN_CONFIDENCE,
      inputFormat: info.format,
    });
    if (callbackUrl) await vetCallbackUrl(config, callbackUrl);
    const { owner } = clientOf(req);
    const job = await submitJob(
      deps,
      {
        options,
        input: { ...info, bytes: bytes.length },
        baseUrl: base,
        ...(callbackUrl ? { callbackUrl } : {}),
        ...(owner ? { owner } : {}),
      },
      bytes,
    );
    req.log?.info({ jobId: job.id, format: info.format, bytes: bytes.length }, 'job accepted');
    return job;
  };

  router.post(
    '/jobs',
    imageUpload('image', config.MAX_UPLOAD_BYTES, true, deps.uploads),
    async (req, res) => {
      const bytes = uploadedBytes(req, 'image');
      const base = baseUrl(config, req);
      const { owner } = clientOf(req);
      const idempotencyKey = idempotencyKeyOf(req);
      const claim = idempotencyKey
        ? await claimIdempotencyKey(
            deps,
            owner,
            idempotencyKey,
            requestFingerprint(bytes, req.query, formFields(req)),
          )
        : undefined;
      let job: TurdifyJob;
      let state = 'waiting';
      if (claim?.kind === 'replay') {
        // The same request again: the job it made, as it is now (404 if since deleted or expired).
        ({ job, state } = await lookupJob(deps, claim.jobId, owner));
        res.set('Idempotent-Replayed', 'true');
      } else {
        try {
          job = await accept(req, bytes, base);
        } catch (err) {
          await claim?.release().catch(() => {});
          throw err;
        }
        await claim?.complete(String(job.id));
        markJobCreated(res);
      }
      res
        .status(202)
        .location(`/jobs/${job.id}`)
        .set('Retry-After', '1')
        .set('Cache-Control', 'no-store')
        .json(jobView(job, state, base));
    },
  );

  router.get('/jobs/:id', async (req, res) => {
    const wait = parseWait(req.query.wait);
    let found = await findJob(req);
    if (wait > 0 && !isEndState(found.state)) {
      // Long poll: answer as soon as the job ends, or after `wait` seconds with what it is then.
      const ended = await lookupJobWhenEnded(deps, found.id, clientOf(req).owner, wait * 1000, res, {
        untilClosing: true,
      });
      if (!ended) return;
      found = ended;
    }
    const { job, state } = found;
    const view = jobView(job, state, baseUrl(config, req));
    if (job.data.callbackUrl) {
      view.webhook = { url: job.data.callbackUrl, ...(await readDelivery(redis, keys, String(job.id))) };
    }
    if (view.status !== 'completed' && view.status !== 'failed') res.set('Retry-After', '1');
    res.set('Cache-Control', 'no-store').json(view);
  });

  router.get('/jobs/:id/result', async (req, res) => {
    const { id, job, state } = await findJob(req);
    const status = publicStatus(state);
    if (status !== 'completed' || !job.returnvalue) {
      // RFC 9457 reserves `status` for the HTTP status code: the job's is `job_status`.
      const extensions: Record<string, unknown> = { job_id: id, job_status: status };
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
    // Its webhook too: a pending delivery is dropped (one being sent right now still completes).
    await deps.webhooks.remove(id).catch(() => 0);
    await redis.unlink(keys.webhook(id), keys.bullWebhook(id), keys.bullWebhookLogs(id));
    res.status(204).end();
  });

  return router;
}

/** GET /jobs/:id?wait=N: 0 (no wait) when absent; a 400 unless 0 ≤ N ≤ MAX_WAIT_SECONDS. */
export function parseWait(raw: unknown): number {
  if (raw === undefined) return 0;
  const parsed = waitSchema.safeParse(raw);
  if (!parsed.success) {
    throw invalidOption('wait', `must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  }
  return parsed.data;
}

/** callback_url: webhooks configured, http(s), and an address the SSRF guard allows. */
async function vetCallbackUrl(config: ApiDeps['config'], url: string): Promise<void> {
  if (!config.WEBHOOK_SECRET) {
    throw invalidOption('callback_url', 'webhooks are not enabled on this server (it has no WEBHOOK_SECRET)');
  }
  try {
    await checkCallbackUrl(url, policyFromConfig(config));
  } catch (err) {
    if (err instanceof CallbackRefused) throw invalidOption('callback_url', err.message);
    throw err;
  }
}

/** If-None-Match against a strong ETag, with the weak comparison RFC 9110 prescribes for it. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => strip(t) === strip(etag));
}
