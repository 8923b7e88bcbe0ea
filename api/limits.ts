// Submission limits, counted in Redis so they hold across API processes (express-rate-limit with
// rate-limit-redis; fixed windows): RATE_LIMIT_PER_MINUTE per key, or per client address for
// requests without a key, and DAILY_JOB_QUOTA accepted jobs per key per 24 hours. Headers are the
// IETF httpapi RateLimit/RateLimit-Policy draft 8 (draft-ietf-httpapi-ratelimit-headers-08), one
// policy per limit; past a limit, 429 problem+json with Retry-After.
import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { ApiDeps } from './deps.js';
import { clientOf } from './auth.js';
import { idempotencyKeyOf, idempotentJobExists } from './idempotency.js';
import { HttpProblem } from './problem.js';
import type { ProblemSlug } from './problemTypes.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Marks a request that created a job: only those count against the daily quota. */
export const markJobCreated = (res: Response) => {
  res.locals.jobCreated = true;
};

/** A limit's key: the API key's owner id, else the client address (IPv6 by /56, as the library does). */
function clientKey(req: Request): string {
  const { owner } = clientOf(req);
  return owner ? `key:${owner}` : `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`;
}

/**
 * rate-limit-redis speaks raw commands and loads its Lua scripts once, at start; with a fail-fast
 * connection that load fails whenever Redis is not up yet, and the store would fail every request
 * after. This keeps the scripts here instead and runs them with EVALSHA, falling back to EVAL.
 */
function sendCommandVia(redis: Redis) {
  const scripts = new Map<string, string>();
  return async (...args: string[]): Promise<RedisReply> => {
    const [command, ...rest] = args;
    const upper = command?.toUpperCase();
    if (upper === 'SCRIPT' && rest[0]?.toUpperCase() === 'LOAD' && rest[1] !== undefined) {
      const sha = createHash('sha1').update(rest[1]).digest('hex');
      scripts.set(sha, rest[1]);
      return sha;
    }
    if (upper === 'EVALSHA') {
      const [sha, numKeys, ...params] = rest as [string, string, ...string[]];
      try {
        return (await redis.evalsha(sha, numKeys, ...params)) as RedisReply;
      } catch (err) {
        const script = scripts.get(sha);
        if (!script || !/^NOSCRIPT/.test((err as Error).message)) throw err;
        return (await redis.eval(script, numKeys, ...params)) as RedisReply;
      }
    }
    return (await redis.call(command!, ...rest)) as RedisReply;
  };
}

function limitProblem(slug: ProblemSlug, detail: string, limit: number) {
  return new HttpProblem(429, slug, 'Too Many Requests', detail, {
    extensions: { limit },
    headers: { 'Cache-Control': 'no-store' },
  });
}

/** The submission limits for POST /jobs and POST /turdify/, in the order they apply. */
export function submissionLimits(deps: Pick<ApiDeps, 'config' | 'redis' | 'keys' | 'log'>): RequestHandler[] {
  const { config, redis, keys, log } = deps;
  const sendCommand = sendCommandVia(redis);
  const logger = {
    warn: (err: unknown) => log.warn({ err: String(err) }, 'rate limiter'),
    error: (err: unknown) => log.warn({ err: String(err) }, 'rate limiter'),
  };
  const common = {
    standardHeaders: 'draft-8' as const,
    legacyHeaders: false,
    keyGenerator: clientKey,
    logger,
    // Redis unreachable: let the request on. It cannot make a job without Redis anyway (that
    // answers 503 further on), and a bad upload still gets its precise 4xx.
    passOnStoreError: true,
  };
  const limits: RequestHandler[] = [];
  if (config.RATE_LIMIT_PER_MINUTE > 0) {
    limits.push(
      rateLimit({
        ...common,
        windowMs: 60_000,
        limit: config.RATE_LIMIT_PER_MINUTE,
        store: new RedisStore({ sendCommand, prefix: keys.rateLimit('minute') }),
        handler: (req, _res, next) =>
          next(
            limitProblem(
              'rate-limited',
              `more than ${config.RATE_LIMIT_PER_MINUTE} submissions in a minute from this ${clientOf(req).owner ? 'API key' : 'address'}; wait for Retry-After`,
              config.RATE_LIMIT_PER_MINUTE,
            ),
          ),
      }),
    );
  }
  if (config.DAILY_JOB_QUOTA > 0) {
    limits.push(
      rateLimit({
        ...common,
        windowMs: DAY_MS,
        limit: config.DAILY_JOB_QUOTA,
        store: new RedisStore({ sendCommand, prefix: keys.rateLimit('day') }),
        // A quota of jobs made: refused submissions and idempotent replays give their count back,
        // and a retry of a submission that made its job is not counted at all.
        skip: async (req) => {
          const { owner } = clientOf(req);
          if (owner === undefined) return true;
          const key = idempotencyKeyOf(req);
          return key !== undefined && (await idempotentJobExists(deps, owner, key));
        },
        skipFailedRequests: true,
        requestWasSuccessful: (_req, res) => res.locals.jobCreated === true,
        handler: (_req, _res, next) =>
          next(
            limitProblem(
              'quota-exceeded',
              `this API key has used its quota of ${config.DAILY_JOB_QUOTA} jobs for this 24-hour window; wait for Retry-After`,
              config.DAILY_JOB_QUOTA,
            ),
          ),
      }),
    );
  }
  return limits;
}
