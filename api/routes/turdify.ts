// POST /turdify/: the synchronous call (upload in field "my_file", PNG back in the same response;
// cover options as query parameters).
// It is the asynchronous job underneath, awaited up to SYNC_TIMEOUT_SECONDS.
import { Router } from 'express';
import { parseFailure, type JobErrorCode } from '../../shared/errors.js';
import { clientOf } from '../auth.js';
import { baseUrl, type ApiDeps } from '../deps.js';
import { inspectImage } from '../inspectImage.js';
import { jobUrls } from '../jobView.js';
import { lookupJobWhenEnded } from '../jobLookup.js';
import { markJobCreated } from '../limits.js';
import { parseOptions, SYNC_OPTION_NAMES } from '../options.js';
import { HttpProblem } from '../problem.js';
import { JOB_FAILURE_SLUGS } from '../problemTypes.js';
import { imageUpload, uploadedBytes } from '../upload.js';
import { submitJob } from './jobs.js';

/**
 * A failed job's answer: the image's fault is a 4xx (as POST /jobs would have answered had it seen
 * the problem), the service's a 5xx, a job that ran out of time 504.
 */
const SYNC_FAILURE: Record<JobErrorCode, { status: number; title: string }> = {
  corrupt_image: { status: 422, title: 'Unprocessable Image' },
  unsupported_image: { status: 415, title: 'Unsupported Media Type' },
  too_large: { status: 413, title: 'Image Too Large' },
  input_expired: { status: 410, title: 'Gone' }, // the upload expired before a worker took it
  cancelled: { status: 410, title: 'Gone' }, // deleted while it ran
  unknown_emoji: { status: 500, title: 'Internal Server Error' }, // a worker without our catalogue
  internal: { status: 500, title: 'Internal Server Error' },
  storage_full: { status: 503, title: 'Service Unavailable' }, // Redis had no room for the result
  timeout: { status: 504, title: 'Gateway Timeout' }, // over JOB_TIMEOUT_SECONDS
};

export function turdifyRouter(deps: ApiDeps): Router {
  const { config, store } = deps;
  const router = Router();
  router.post(
    ['/turdify', '/turdify/'],
    imageUpload('my_file', config.MAX_UPLOAD_BYTES, false, deps.uploads),
    async (req, res) => {
      const bytes = uploadedBytes(req, 'my_file');
      const info = await inspectImage(bytes, { maxPixels: config.MAX_PIXELS });
      // Options come as query parameters only: the 2021 clients send just the file, and other form
      // fields are ignored as they were then. PNG unless asked otherwise, as then.
      const { options } = parseOptions(
        req.query,
        undefined,
        { minConfidence: config.MIN_CONFIDENCE, inputFormat: info.format, format: 'png' },
        SYNC_OPTION_NAMES,
      );
      const { owner } = clientOf(req);
      const job = await submitJob(
        deps,
        { options, input: { ...info, bytes: bytes.length }, ...(owner ? { owner } : {}) },
        bytes,
      );
      markJobCreated(res);
      const id = String(job.id);
      // The same wait as GET /jobs/:id?wait=N, bounded by SYNC_TIMEOUT_SECONDS.
      const found = await lookupJobWhenEnded(deps, id, owner, config.SYNC_TIMEOUT_SECONDS * 1000, res);
      if (!found) return; // the client left; the job goes on
      const { job: ended, state } = found;
      if (state === 'failed') {
        const failure = parseFailure(ended.failedReason);
        const { status, title } = SYNC_FAILURE[failure.code];
        throw new HttpProblem(status, JOB_FAILURE_SLUGS[failure.code], title, failure.message, {
          // `error` as GET /jobs/:id shows the same job.
          extensions: { code: failure.code, error: failure, job_id: id },
        });
      }
      const result = ended.returnvalue;
      if (state !== 'completed' || !result) {
        const links = jobUrls(baseUrl(config, req), id);
        throw new HttpProblem(
          504,
          'sync-timeout',
          'Gateway Timeout',
          `the image was not processed within ${config.SYNC_TIMEOUT_SECONDS} s; poll job_url for the outcome`,
          { extensions: { job_id: id, job_url: links.self }, headers: { Location: `/jobs/${id}` } },
        );
      }
      const out = await store.getResult(id);
      if (!out) {
        throw new HttpProblem(500, 'internal', 'Internal Server Error', 'the result image is missing');
      }
      res
        .status(200)
        .type(result.result.contentType)
        .set({ 'X-Turdify-Job-Id': id, 'Content-Length': String(out.length), 'Cache-Control': 'no-store' })
        .end(out);
    },
  );
  return router;
}
