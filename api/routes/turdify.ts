// POST /turdify/: the synchronous call (upload in field "my_file", PNG back in the same response;
// cover options as query parameters).
// It is the asynchronous job underneath, awaited up to SYNC_TIMEOUT_SECONDS.
import { Router } from 'express';
import { parseFailure } from '../../shared/errors.js';
import { baseUrl, type ApiDeps } from '../deps.js';
import { inspectImage } from '../inspectImage.js';
import { jobUrls } from '../jobView.js';
import { lookupJobWhenEnded } from '../jobLookup.js';
import { parseOptions, SYNC_OPTION_NAMES } from '../options.js';
import { HttpProblem } from '../problem.js';
import { imageUpload, uploadedBytes } from '../upload.js';
import { submitJob } from './jobs.js';

export function turdifyRouter(deps: ApiDeps): Router {
  const { config, store } = deps;
  const router = Router();
  router.post(
    ['/turdify', '/turdify/'],
    imageUpload('my_file', config.MAX_UPLOAD_BYTES, false),
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
      const job = await submitJob(deps, { options, input: { ...info, bytes: bytes.length } }, bytes);
      const id = String(job.id);
      // The same wait as GET /jobs/:id?wait=N, bounded by SYNC_TIMEOUT_SECONDS.
      const found = await lookupJobWhenEnded(deps, id, config.SYNC_TIMEOUT_SECONDS * 1000, res);
      if (!found) return; // the client left; the job goes on
      const { job: ended, state } = found;
      if (state === 'failed') {
        const failure = parseFailure(ended.failedReason);
        throw new HttpProblem(422, failure.code.replace(/_/g, '-'), 'Unprocessable Image', failure.message, {
          extensions: { code: failure.code, job_id: id },
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
