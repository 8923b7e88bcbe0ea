// Why a job failed, as a stable code. BullMQ keeps only a message string per failed job,
// so the code travels as a "[code] message" prefix, written and read only here.
export const JOB_ERROR_CODES = [
  'corrupt_image', // the bytes could not be decoded (truncated, damaged)
  'unsupported_image', // decodes, but not something we can process
  'too_large', // over MAX_PIXELS once decoded
  'input_expired', // the upload's TTL ran out before a worker got to it
  'unknown_emoji', // the emoji named in the job is not in this worker's catalogue
  'timeout', // over JOB_TIMEOUT_SECONDS
  'cancelled', // deleted while running
  'storage_full', // Redis refused the result for want of memory (maxmemory), after retries
  'internal', // anything else, after its retries
] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

/** An error that is the image's fault: retrying cannot help. */
export class JobFailure extends Error {
  override name = 'JobFailure';
  constructor(
    readonly code: JobErrorCode,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

export const formatFailure = (code: JobErrorCode, message: string): string => `[${code}] ${message}`;

export function parseFailure(reason: string | undefined): { code: JobErrorCode; message: string } {
  const m = /^\[([a-z_]+)\] ([\s\S]*)$/.exec(reason ?? '');
  if (m && (JOB_ERROR_CODES as readonly string[]).includes(m[1]!)) {
    return { code: m[1] as JobErrorCode, message: m[2]! };
  }
  return { code: 'internal', message: reason || 'the job failed' };
}
