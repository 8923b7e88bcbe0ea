// RFC 9457 problem details (application/problem+json) and the Express error handler that maps
// every error the API can meet onto one.
import type { ErrorRequestHandler, Response } from 'express';
import multer from 'multer';
import { isRedisOom } from '../shared/redis.js';
import { problemTypeUri, type ProblemSlug } from './problemTypes.js';

export { PROBLEM_BASE } from './problemTypes.js';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemOptions {
  /** Extension members added to the body (snake_case). */
  extensions?: Record<string, unknown>;
  /** Extra response headers (Retry-After, Allow...). */
  headers?: Record<string, string>;
}

const RFC9457_MEMBERS = ['type', 'title', 'status', 'detail', 'instance'];

/** An error that becomes a problem response with this status. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;
  constructor(
    readonly status: number,
    readonly slug: ProblemSlug,
    readonly title: string,
    readonly detail?: string,
    options: ProblemOptions = {},
  ) {
    super(detail ?? title);
    this.extensions = options.extensions ?? {};
    // RFC 9457's own members cannot be extensions: a job's `status` once overwrote the HTTP one.
    const clash = RFC9457_MEMBERS.filter((k) => k in this.extensions);
    if (clash.length) throw new Error(`problem extension ${clash.join(', ')} is an RFC 9457 member`);
    this.headers = options.headers ?? {};
  }
}

export function problemBody(p: HttpProblem): Record<string, unknown> {
  return {
    ...p.extensions,
    type: problemTypeUri(p.slug),
    title: p.title,
    status: p.status,
    ...(p.detail !== undefined ? { detail: p.detail } : {}),
  };
}

export function sendProblem(res: Response, p: HttpProblem): void {
  for (const [k, v] of Object.entries(p.headers)) res.setHeader(k, v);
  res
    .status(p.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemBody(p)));
}

export const redisUnavailable = (): HttpProblem =>
  new HttpProblem(503, 'service-unavailable', 'Service Unavailable', 'the job store (Redis) is unavailable', {
    headers: { 'Retry-After': '5' },
  });

/** Redis refused a write for want of memory: admission (memoryBudget.ts) normally answers first. */
export const redisFull = (): HttpProblem =>
  new HttpProblem(503, 'storage-full', 'Service Unavailable', 'the job store (Redis) is out of memory', {
    headers: { 'Retry-After': '30' },
  });

/** True for the errors ioredis (and BullMQ through it) raise while Redis cannot be reached. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT') return true;
  const m = err.message;
  return (
    m.includes('enableOfflineQueue') ||
    m.includes('Connection is closed') ||
    m.includes('ECONNREFUSED') ||
    m.includes('max retries per request') ||
    m.includes('Redis not ready') ||
    m.includes('Connection timeout')
  );
}

/** Converts anything thrown into an HttpProblem (500 for the unexpected, without internals). */
export function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (err instanceof multer.MulterError) {
    if (err.code === 'LIMIT_FILE_SIZE') {
      return new HttpProblem(
        413,
        'payload-too-large',
        'Payload Too Large',
        'the upload exceeds the size limit',
      );
    }
    const field = err.field ? ` (field "${err.field}")` : '';
    return new HttpProblem(400, 'bad-request', 'Bad Request', `${err.message}${field}`, {
      extensions: err.field ? { field: err.field } : {},
    });
  }
  const e = err as { type?: unknown; status?: unknown; expose?: unknown; message?: unknown } | null;
  if (e && e.type === 'entity.too.large') {
    return new HttpProblem(
      413,
      'payload-too-large',
      'Payload Too Large',
      'the upload exceeds the size limit',
    );
  }
  if (isRedisUnavailable(err)) return redisUnavailable();
  if (isRedisOom(err)) return redisFull();
  // Express's router: a path parameter with bad percent-encoding, e.g. /jobs/%zz.
  if (err instanceof URIError) {
    return new HttpProblem(400, 'bad-request', 'Bad Request', `malformed URL: ${err.message}`);
  }
  // body-parser / http-errors style client errors (malformed bodies, aborted uploads).
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
    return new HttpProblem(e.status, 'bad-request', 'Bad Request', String(e.message ?? 'bad request'));
  }
  return new HttpProblem(500, 'internal', 'Internal Server Error', 'an unexpected error occurred');
}

/** Last middleware: every error becomes application/problem+json. */
export const problemHandler: ErrorRequestHandler = (err, req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  const p = toProblem(err);
  const log = (
    req as { log?: { error: (o: unknown, m: string) => void; warn: (o: unknown, m: string) => void } }
  ).log;
  if (p.status === 500) log?.error({ err }, 'unhandled error');
  else if (p.status === 503 && !(err instanceof HttpProblem)) {
    const what = p.slug === 'storage-full' ? 'redis out of memory' : 'redis unavailable';
    log?.warn({ err: err instanceof Error ? err.message : String(err) }, what);
  }
  sendProblem(res, p);
};
