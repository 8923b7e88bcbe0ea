// The catalogue of problem types (RFC 9457 `type`): every slug the API can answer, with its title,
// status and what it means. HttpProblem takes only these slugs (a new one fails the typecheck until
// it is listed here), GET /problems/<slug> explains each, and the OpenAPI document lists them.
import type { JobErrorCode } from '../shared/errors.js';

export interface ProblemType {
  title: string;
  /** The HTTP statuses it comes with (one, but for corrupt-image and storage-full). */
  status: readonly number[];
  /** What happened and what the client can do, for people. */
  explanation: string;
}

/**
 * `type` is the relative URI `/problems/<slug>`: resolved against the request's URL (RFC 9457 §3.1.1)
 * it is a page this API serves, whatever name or address the client used, and it is the same string
 * on every deployment, so a client can compare it without knowing the server's origin.
 */
export const PROBLEM_BASE = '/problems/';

export const PROBLEM_TYPES = {
  'bad-request': {
    title: 'Bad Request',
    status: [400],
    explanation:
      'The request could not be read: an empty file, a malformed URL or body, or an upload cut off before its end. The detail says which.',
  },
  'missing-image': {
    title: 'Bad Request',
    status: [400],
    explanation:
      'No image was uploaded: send multipart/form-data with the file in field "image" (POST /jobs; "my_file" for POST /turdify/), or a raw image/* body (POST /jobs).',
  },
  'invalid-option': {
    title: 'Bad Request',
    status: [400],
    explanation:
      'An option has a value it does not accept, or does not apply to the chosen mode. `errors` lists each bad option with a message (and `allowed` values for enumerations); GET /covers lists them all.',
  },
  'unknown-option': {
    title: 'Bad Request',
    status: [400],
    explanation:
      'The request names an option the route does not take (a typo?). `unknown_options` lists them, `known_options` the ones it takes.',
  },
  'malformed-multipart': {
    title: 'Bad Request',
    status: [400],
    explanation: 'The multipart/form-data body could not be parsed (no boundary, or cut short).',
  },
  'invalid-idempotency-key': {
    title: 'Bad Request',
    status: [400],
    explanation: 'The Idempotency-Key header must be 1–255 printable ASCII characters, e.g. a UUID.',
  },
  unauthorized: {
    title: 'Unauthorized',
    status: [401],
    explanation:
      'An API key is required and was not sent, or the key (or the admin token, on operator routes) is wrong or revoked. Send "Authorization: Bearer <key>" (or "X-API-Key: <key>"); WWW-Authenticate says which realm.',
  },
  'job-not-found': {
    title: 'Not Found',
    status: [404],
    explanation:
      'No job has this id for this client: it never existed, expired (RESULT_TTL_SECONDS), was deleted, or belongs to another API key.',
  },
  'result-expired': {
    title: 'Not Found',
    status: [404],
    explanation: 'The job completed, but its result image has expired or been deleted since.',
  },
  'not-found': {
    title: 'Not Found',
    status: [404],
    explanation: 'No route answers this path. GET /openapi.json (or /docs) lists the routes.',
  },
  'method-not-allowed': {
    title: 'Method Not Allowed',
    status: [405],
    explanation: 'The path exists but not with this method; the Allow header lists the methods it takes.',
  },
  'request-timeout': {
    title: 'Request Timeout',
    status: [408],
    explanation:
      'The upload stalled (less than the minimum bytes within UPLOAD_STALL_SECONDS): the server closed the connection. Retry on a better connection.',
  },
  'result-not-ready': {
    title: 'Conflict',
    status: [409],
    explanation:
      'The job has no result yet (`job_status` says where it is; retry after Retry-After), or it failed (`error` says why) and never will.',
  },
  'idempotency-key-in-use': {
    title: 'Conflict',
    status: [409],
    explanation:
      'A request with this Idempotency-Key is still being processed; retry shortly and get the job it makes.',
  },
  'input-expired': {
    title: 'Gone',
    status: [410],
    explanation:
      'POST /turdify/: the upload expired before a worker took it (the workers were too busy or down).',
  },
  cancelled: {
    title: 'Gone',
    status: [410],
    explanation: 'POST /turdify/: the job was deleted while it ran.',
  },
  'payload-too-large': {
    title: 'Payload Too Large',
    status: [413],
    explanation:
      'The upload is larger than MAX_UPLOAD_BYTES, or than the queue could ever hold (MAX_QUEUED_BYTES).',
  },
  'too-many-pixels': {
    title: 'Image Too Large',
    status: [413],
    explanation:
      'The image has more pixels than MAX_PIXELS, read from its header before any decoding; `width`, `height` and `max_pixels` give the figures.',
  },
  'too-large': {
    title: 'Image Too Large',
    status: [413],
    explanation: 'POST /turdify/: the worker found the decoded image over MAX_PIXELS.',
  },
  'unsupported-media-type': {
    title: 'Unsupported Media Type',
    status: [415],
    explanation:
      'The upload is not an image in a format the API reads (decided from its bytes, never the declared type), or the body is not multipart/form-data (or image/*). `accepted_formats` lists the formats.',
  },
  'unsupported-image': {
    title: 'Unsupported Media Type',
    status: [415],
    explanation:
      "POST /turdify/: the image decodes, but with a codec the worker's image library lacks (e.g. HEVC-coded HEIC).",
  },
  'corrupt-image': {
    title: 'Unprocessable Image',
    status: [422],
    explanation:
      'The file looks like an image but is damaged (truncated, corrupt data or checksums): the API refuses it rather than render a half-garbage picture.',
  },
  'idempotency-key-reused': {
    title: 'Unprocessable Content',
    status: [422],
    explanation:
      'This Idempotency-Key was already used for a different request (another image or other options); use a new key.',
  },
  'rate-limited': {
    title: 'Too Many Requests',
    status: [429],
    explanation:
      'More submissions in a minute than RATE_LIMIT_PER_MINUTE from this API key or address; wait for Retry-After (the RateLimit headers give the figures).',
  },
  'quota-exceeded': {
    title: 'Too Many Requests',
    status: [429],
    explanation: 'This API key has used its DAILY_JOB_QUOTA for the 24-hour window; wait for Retry-After.',
  },
  internal: {
    title: 'Internal Server Error',
    status: [500],
    explanation: 'Something went wrong on the server (it is logged there, without the upload). Retry later.',
  },
  'unknown-emoji': {
    title: 'Internal Server Error',
    status: [500],
    explanation:
      "POST /turdify/: the worker's emoji catalogue lacks the emoji asked for (a worker older than the API).",
  },
  'service-unavailable': {
    title: 'Service Unavailable',
    status: [503],
    explanation: 'The job store (Redis) cannot be reached; retry after Retry-After.',
  },
  'not-ready': {
    title: 'Service Unavailable',
    status: [503],
    explanation: 'GET /readyz: Redis is not answering, so this API process cannot take jobs now.',
  },
  'queue-full': {
    title: 'Service Unavailable',
    status: [503],
    explanation:
      'Too many jobs (MAX_QUEUED_JOBS) or bytes (MAX_QUEUED_BYTES) are waiting for a worker; retry after Retry-After.',
  },
  'storage-full': {
    title: 'Service Unavailable',
    status: [503],
    explanation:
      'The job store (Redis) is near or at its memory limit; retry after Retry-After, when results have expired or been fetched and deleted.',
  },
  'uploads-busy': {
    title: 'Service Unavailable',
    status: [503],
    explanation:
      'This API process holds as many upload bytes in memory as MAX_UPLOAD_MEMORY_BYTES allows; retry in a moment.',
  },
  'sync-timeout': {
    title: 'Gateway Timeout',
    status: [504],
    explanation:
      'POST /turdify/: the image was not processed within SYNC_TIMEOUT_SECONDS. The job goes on: poll `job_url` (also in Location).',
  },
  timeout: {
    title: 'Gateway Timeout',
    status: [504],
    explanation: 'POST /turdify/: the job ran longer than JOB_TIMEOUT_SECONDS and was stopped.',
  },
} as const satisfies Record<string, ProblemType>;

export type ProblemSlug = keyof typeof PROBLEM_TYPES;

export const PROBLEM_SLUGS = Object.keys(PROBLEM_TYPES) as ProblemSlug[];

export const isProblemSlug = (s: string): s is ProblemSlug => Object.hasOwn(PROBLEM_TYPES, s);

/** POST /turdify/ answers a failed job with the problem type of its error code. */
export const JOB_FAILURE_SLUGS: Record<JobErrorCode, ProblemSlug> = {
  corrupt_image: 'corrupt-image',
  unsupported_image: 'unsupported-image',
  too_large: 'too-large',
  input_expired: 'input-expired',
  unknown_emoji: 'unknown-emoji',
  timeout: 'timeout',
  cancelled: 'cancelled',
  storage_full: 'storage-full',
  internal: 'internal',
};

export const problemTypeUri = (slug: ProblemSlug): string => PROBLEM_BASE + slug;
