// The Turdify HTTP API as the command line uses it: submit (retried safely under one
// Idempotency-Key), read a job, fetch its result. Answers are checked with zod where they enter.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

/** The most a 429/503/409 answer's Retry-After is waited for; a longer one (a daily quota) fails. */
export const MAX_RETRY_AFTER_SECONDS = 60;
/** Attempts per request: the first and the retries after a refusal or a dropped connection. */
export const MAX_ATTEMPTS = 6;

export const jobViewSchema = z.object({
  id: z.string(),
  status: z.enum(['queued', 'active', 'completed', 'failed']),
  progress: z.number().optional(),
  faces: z.array(z.unknown()).optional(),
  result: z.object({ content_type: z.string() }).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type JobView = z.infer<typeof jobViewSchema>;

/** A job as the server described it; an answer of another shape (not a Turdify server?) is an ApiError. */
export function parseJob(data: unknown): JobView {
  const parsed = jobViewSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  const where = parsed.error.issues[0]?.path.join('.') || 'the answer';
  throw new ApiError(
    `the server's answer is not a Turdify job (${where}: ${parsed.error.issues[0]?.message})`,
  );
}

const problemSchema = z.object({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.number().optional(),
  detail: z.string().optional(),
});

/** A refusal from the server (its problem+json), an answer that makes no sense, or none at all. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number | undefined;
  /** The problem type's last segment, e.g. `unsupported-media-type`. */
  readonly slug: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  /** The connection failed or dropped: the request may or may not have arrived. */
  readonly noAnswer: boolean;
  constructor(
    message: string,
    more: { status?: number; slug?: string; retryAfterSeconds?: number; noAnswer?: boolean } = {},
  ) {
    super(message);
    this.status = more.status;
    this.slug = more.slug;
    this.retryAfterSeconds = more.retryAfterSeconds;
    this.noAnswer = more.noAnswer ?? false;
  }
}

/** "the upload is not an image … (415 unsupported-media-type)": the problem's own words, then its code. */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let problem: z.infer<typeof problemSchema> = {};
  try {
    problem = problemSchema.parse(JSON.parse(text));
  } catch {
    // Not problem+json (a proxy's page, say): the status line is all there is.
  }
  const slug = problem.type?.split('/').filter(Boolean).pop();
  const words = problem.detail ?? problem.title ?? (res.statusText || 'error');
  const retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
  return new ApiError(`${words} (${res.status}${slug ? ` ${slug}` : ''})`, {
    status: res.status,
    ...(slug ? { slug } : {}),
    ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
  });
}

/** Retry-After as seconds (delta-seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(raw: string | null, now = Date.now()): number | undefined {
  if (!raw) return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Worth the same request again after Retry-After: rate limited, queue or store full, key in use. */
const isRetryable = (e: ApiError) =>
  e.status === 429 || e.status === 503 || (e.status === 409 && e.slug === 'idempotency-key-in-use');

const unreachable = (server: string, err: unknown) => {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return new ApiError(`cannot reach ${server} (${cause?.code ?? cause?.message ?? String(err)})`, {
    noAnswer: true,
  });
};

export interface RetryNotice {
  attempt: number;
  waitSeconds: number;
  reason: string;
}

export interface ApiClient {
  readonly server: string;
  headers(extra?: Record<string, string>): Record<string, string>;
  /** POST /jobs: 202's job, after waiting out refusals that say when to come back. */
  submit(
    image: Buffer,
    filename: string,
    options: Record<string, string>,
    onRetry?: (n: RetryNotice) => void,
  ): Promise<JobView>;
  getJob(id: string, waitSeconds?: number): Promise<JobView>;
  getResult(id: string): Promise<{ bytes: Buffer; contentType: string }>;
  /** GET /healthz: undefined when the server answers, else why not. */
  unreachableReason(): Promise<string | undefined>;
}

export function createApiClient(server: string, apiKey?: string): ApiClient {
  const headers = (extra: Record<string, string> = {}) => ({
    ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}),
    ...extra,
  });
  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    try {
      return await fetch(server + path, {
        ...init,
        headers: headers(init.headers as Record<string, string>),
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw unreachable(server, err);
    }
  };
  const json = async (res: Response) => {
    if (!res.ok) throw await errorOf(res);
    return parseJob(await res.json().catch(() => undefined));
  };

  return {
    server,
    headers,
    async submit(image, filename, options, onRetry) {
      // One key for every attempt of this file: a retry after a lost answer gets the job the
      // first attempt made instead of a second one (api/idempotency.ts).
      const key = randomUUID();
      for (let attempt = 1; ; attempt++) {
        const form = new FormData();
        for (const [name, value] of Object.entries(options)) form.append(name, value);
        // readFile's Buffer is backed by an ArrayBuffer, never a SharedArrayBuffer (DOM's BlobPart wants that said).
        form.append('image', new Blob([image as Uint8Array<ArrayBuffer>]), filename);
        let error: ApiError;
        try {
          return await json(
            await request('/jobs', { method: 'POST', body: form, headers: { 'Idempotency-Key': key } }),
          );
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          error = err;
        }
        // A dropped connection is retried too (the key makes that safe), after 1, 2, 4… s.
        const wait = error.noAnswer ? 2 ** (attempt - 1) : (error.retryAfterSeconds ?? 1);
        const retry = error.noAnswer || isRetryable(error);
        if (!retry || attempt >= MAX_ATTEMPTS || wait > MAX_RETRY_AFTER_SECONDS) throw error;
        onRetry?.({ attempt, waitSeconds: wait, reason: error.message });
        await sleep(wait * 1000);
      }
    },
    async getJob(id, waitSeconds = 0) {
      const query = waitSeconds > 0 ? `?wait=${waitSeconds}` : '';
      return json(await request(`/jobs/${encodeURIComponent(id)}${query}`));
    },
    async getResult(id) {
      const res = await request(`/jobs/${encodeURIComponent(id)}/result`);
      if (!res.ok) throw await errorOf(res);
      return {
        bytes: Buffer.from(await res.arrayBuffer()),
        contentType: res.headers.get('content-type') ?? 'application/octet-stream',
      };
    },
    async unreachableReason() {
      try {
        await request('/healthz', { signal: AbortSignal.timeout(10_000) });
        return undefined;
      } catch (err) {
        return err instanceof ApiError ? err.message : `cannot reach ${server} (no answer in 10 s)`;
      }
    },
  };
}
