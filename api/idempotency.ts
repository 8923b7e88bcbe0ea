// Idempotency-Key on POST /jobs (IETF httpapi draft, draft-ietf-httpapi-idempotency-key-header):
// a client that retries a submission with the same key gets the same job, never a second one.
// Keys are scoped to the API key (or to clients without one), kept 24 hours, and bound to a
// fingerprint of the request: the image's bytes and the options. A claim is taken with SET NX
// before the job is made, so concurrent retries make one job: the others wait for it and answer it.
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Request } from 'express';
import type { ApiDeps } from './deps.js';
import { HttpProblem } from './problem.js';

/** How long a key and the job it made are remembered. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** A claim in progress expires by itself if its API process dies before making the job. */
const CLAIM_MS = 60_000;
/** How long a concurrent retry waits for the first request to finish before answering 409. */
const WAIT_MS = 10_000;

const DELETE_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export type Claim =
  | { kind: 'replay'; jobId: string }
  | { kind: 'new'; complete(jobId: string): Promise<void>; release(): Promise<void> };

/** The header's value (a structured-field string, quotes optional), or undefined; 400 if malformed. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const raw = req.get('idempotency-key');
  if (raw === undefined) return undefined;
  const m = /^"(.*)"$/.exec(raw.trim());
  const key = m ? m[1]!.replace(/\\(["\\])/g, '$1') : raw.trim();
  if (!/^[\x20-\x7e]{1,255}$/.test(key)) {
    throw new HttpProblem(
      400,
      'invalid-idempotency-key',
      'Bad Request',
      'Idempotency-Key must be 1–255 printable ASCII characters, e.g. a UUID',
    );
  }
  return key;
}

const recordName = (deps: Pick<ApiDeps, 'keys'>, owner: string | undefined, key: string) =>
  deps.keys.idempotency(owner ?? 'anonymous', createHash('sha256').update(key).digest('hex'));

/** Whether `key` already made a job (a retry of it costs no quota; the fingerprint is checked later). */
export async function idempotentJobExists(
  deps: Pick<ApiDeps, 'redis' | 'keys'>,
  owner: string | undefined,
  key: string,
): Promise<boolean> {
  const raw = await deps.redis.get(recordName(deps, owner, key));
  return raw !== null && (JSON.parse(raw) as { job?: string }).job !== undefined;
}

/** What makes two submissions "the same request": the image's bytes and every option given. */
export function requestFingerprint(bytes: Buffer, query: unknown, form: unknown): string {
  const sorted = (v: unknown) =>
    v && typeof v === 'object' ? Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : [];
  return createHash('sha256')
    .update(bytes)
    .update(JSON.stringify({ query: sorted(query), form: sorted(form) }))
    .digest('hex');
}

/**
 * Claims `key` for this request: "new" (make the job, then complete() with its id, or release()
 * on failure so a retry may try again), or "replay" with the job an earlier identical request made.
 * 422 when the key was used for a different request; 409 if the first is still running after a wait.
 */
export async function claimIdempotencyKey(
  deps: Pick<ApiDeps, 'redis' | 'keys'>,
  owner: string | undefined,
  key: string,
  fingerprint: string,
): Promise<Claim> {
  const { redis } = deps;
  const name = recordName(deps, owner, key);
  const claim = JSON.stringify({ fp: fingerprint, claim: randomUUID() });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await redis.set(name, claim, 'PX', CLAIM_MS, 'NX')) {
      return {
        kind: 'new',
        complete: async (jobId) => {
          await redis.set(
            name,
            JSON.stringify({ fp: fingerprint, job: jobId }),
            'EX',
            IDEMPOTENCY_TTL_SECONDS,
          );
        },
        release: async () => {
          await redis.eval(DELETE_IF_EQUAL, 1, name, claim);
        },
      };
    }
    const raw = await redis.get(name);
    if (raw === null) continue; // released or expired in between: claim again
    const seen = JSON.parse(raw) as { fp: string; job?: string };
    if (seen.fp !== fingerprint) {
      throw new HttpProblem(
        422,
        'idempotency-key-reused',
        'Unprocessable Content',
        'this Idempotency-Key was used for a different request (another image or other options); use a new key',
      );
    }
    if (seen.job) return { kind: 'replay', jobId: seen.job };
    if (Date.now() > deadline) {
      throw new HttpProblem(
        409,
        'idempotency-key-in-use',
        'Conflict',
        'a request with this Idempotency-Key is still being processed; retry shortly',
        { headers: { 'Retry-After': '1' } },
      );
    }
    await sleep(50);
  }
}
