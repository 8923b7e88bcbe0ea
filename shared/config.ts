// Every setting the service reads from the environment, validated once at start.
// Defaults here are the documented ones (README "Configuration").
import { z } from 'zod';
import { Webhook } from 'standardwebhooks';
import { parseCidrList, parseDurationList, parseOriginList, parseTrustProxy } from './configFormats.js';

const seconds = (def: number) => z.coerce.number().positive().default(def);
const BOOL_WORDS = ['true', 'false', '1', '0', 'yes', 'no'] as const;
const truthy = (v: string) => v === 'true' || v === '1' || v === 'yes';
const bool = (def: boolean) =>
  z
    .enum(BOOL_WORDS)
    .default(def ? 'true' : 'false')
    .transform(truthy);

/** A comma list, parsed by `parse` (null = malformed, reported as "must be a comma list of <what>"). */
const list = <T>(def: string, parse: (text: string) => T[] | null, what: string) =>
  z
    .string()
    .default(def)
    .transform((text, ctx) => {
      const parsed = parse(text);
      if (!parsed) ctx.addIssue({ code: 'custom', message: `must be a comma list of ${what}` });
      return parsed ?? [];
    });

export const configSchema = z.object({
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key the service writes (BullMQ's and its own). */
  KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('turdify'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  /** Base of absolute URLs the service hands out (result links); derived from the request when unset. */
  PUBLIC_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(20 * 1024 * 1024),
  MAX_PIXELS: z.coerce.number().int().positive().default(50_000_000),
  /** Uploads waiting for a worker beyond this get 503 + Retry-After (bounds Redis memory). */
  MAX_QUEUED_JOBS: z.coerce.number().int().positive().default(10_000),
  /**
   * Bytes of uploads stored and not yet processed beyond which POST /jobs gets 503. Unset: half of
   * Redis's maxmemory, read at each admission, or 512 MiB when Redis has no limit (memoryBudget.ts).
   */
  MAX_QUEUED_BYTES: z.coerce.number().int().positive().optional(),
  /** How long an accepted upload may wait for a worker before it expires. */
  INPUT_TTL_SECONDS: seconds(3600),
  /** How long a result image (and the job record) is kept after the job ends. */
  RESULT_TTL_SECONDS: seconds(86400),
  /** Bound on POST /turdify/ (the synchronous call) before it answers 504. */
  SYNC_TIMEOUT_SECONDS: seconds(60),
  SHUTDOWN_TIMEOUT_SECONDS: seconds(30),

  /** Worker processes `npm start` runs on this machine; "auto" = one per core. */
  WORKERS: z.union([z.literal('auto'), z.coerce.number().int().min(0).max(256)]).default(1),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * Jobs a worker holds beyond WORKER_CONCURRENCY: their fetch and upload read happen while another
   * job computes, so a worker far from Redis does not wait a round trip between jobs.
   */
  WORKER_PREFETCH: z.coerce.number().int().min(0).max(16).default(1),
  /**
   * Run the model in a worker thread, so long inferences cannot starve BullMQ's lock renewal. auto:
   * only for backends whose inference blocks the event loop for long (WebAssembly, TensorFlow.js);
   * onnxruntime-node runs in the worker process (docs/performance.md, "Decisions").
   */
  INFERENCE_THREAD: z
    .enum(['auto', ...BOOL_WORDS])
    .default('auto')
    .transform((v) => (v === 'auto' ? 'auto' : truthy(v))),
  /** A job taking longer than this fails with code "timeout". */
  JOB_TIMEOUT_SECONDS: seconds(120),
  /** Attempts for transient failures (Redis hiccups); bad images are never retried. */
  JOB_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  JOB_BACKOFF_MS: z.coerce.number().int().min(0).default(1000),

  /**
   * Face detector (docs/detection.md): RetinaFace (small, crowded and turned faces; weights for
   * non-commercial research use), SSD MobileNet v1 or TinyFaceDetector (face-api, MIT).
   */
  DETECTOR: z.enum(['retinaface', 'ssd', 'tiny']).default('retinaface'),
  /** RetinaFace: which of the two weight files in the `retinaface` package. */
  RETINAFACE_WEIGHTS: z.enum(['v1', 'v2']).default('v1'),
  /** RetinaFace: find which way up a photo is (a thumbnail looked at turned 90°, 180°, 270°). */
  FIND_ORIENTATION: bool(true),
  /** Longest side of the copy the detector is given; unset: the detector's own (2048 / 1024). */
  DETECT_MAX_SIDE: z.coerce.number().int().min(128).max(8192).optional(),
  /** RetinaFace: smaller photos are looked at enlarged to this longest side; unset: 1024. */
  DETECT_MIN_SIDE: z.coerce.number().int().min(0).max(4096).optional(),
  TINY_INPUT_SIZE: z.coerce
    .number()
    .int()
    .refine((n) => n % 32 === 0 && n >= 128 && n <= 1024, 'must be a multiple of 32 in 128..1024')
    .default(416),
  /** Default minimum detection score when a request gives no min_confidence. */
  MIN_CONFIDENCE: z.coerce.number().min(0).max(1).default(0.3),
  /**
   * Inference backend: auto = the fastest that loads for the detector (RetinaFace: onnx, else
   * WebAssembly; SSD: tfjs-node, onnx, WebAssembly; Tiny: tfjs-node, WebAssembly).
   */
  TF_BACKEND: z.enum(['auto', 'tfjs-node', 'onnx', 'wasm']).default('auto'),
  /** onnx backend's intra-op threads; 0 = cores ÷ worker processes on this machine (docs/onnx.md). */
  ONNX_THREADS: z.coerce.number().int().min(0).max(256).default(0),
  /**
   * onnx backend: ONNX Runtime reuses its memory between runs (faster: no fresh pages for every
   * activation) and keeps the largest photo's working memory resident; false returns it after
   * each run, at more detection time (5–6 % on small photos, ≈ 40 % on 10 MP; docs/performance.md).
   */
  ONNX_MEMORY_ARENA: bool(true),
  /** Signs webhooks (Standard Webhooks, "whsec_<base64>"); callback_url is refused without it. */
  WEBHOOK_SECRET: z
    .string()
    .refine(
      (s) => {
        try {
          new Webhook(s);
          return s.startsWith('whsec_');
        } catch {
          return false;
        }
      },
      { error: 'must be "whsec_" followed by base64 (e.g. whsec_$(openssl rand -base64 32))' },
    )
    .optional(),
  /** One webhook attempt's bound (connect + answer). */
  WEBHOOK_TIMEOUT_SECONDS: seconds(10),
  /** Delays before each retry (s, m, h; ms for tests); attempts = retries + 1. About a day in all. */
  WEBHOOK_RETRY_SCHEDULE: list('5s,5m,30m,2h,5h,10h,10h', parseDurationList, 'durations like 5s,5m,2h'),
  /** Allow callbacks to private, loopback and link-local addresses (a LAN of Pis; tests). */
  WEBHOOK_ALLOW_PRIVATE: bool(false),
  /** Or allow just these ranges, e.g. "192.168.1.0/24,10.0.0.0/8". */
  WEBHOOK_ALLOW_CIDRS: list('', parseCidrList, 'CIDRs like 10.0.0.0/8'),
  /** Deliveries one worker process makes at once (network-bound, so more than one). */
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(10),
  /** How often a worker refreshes its entry in the fleet registry. */
  WORKER_HEARTBEAT_SECONDS: seconds(5),
  // Exposure (docs/deploy.md, "Exposing Turdify"): keys, limits, slow clients, operator routes.
  /** Job routes need an API key (`npm run keys -- create NAME`); without it, a key is optional. */
  REQUIRE_API_KEY: bool(false),
  /** Submissions per key (or per client address without a key) per minute; 0 = no limit. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(60),
  /** Jobs one API key may have accepted per 24 hours; 0 = no quota. */
  DAILY_JOB_QUOTA: z.coerce.number().int().min(0).default(1000),
  /** Whether X-Forwarded-For is believed: false, true (one proxy in front), a hop count, or the proxies' addresses. */
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((text, ctx) => {
      const parsed = parseTrustProxy(text);
      if (parsed === null)
        ctx.addIssue({
          code: 'custom',
          message: 'must be false, true, a hop count or a comma list of addresses/CIDRs',
        });
      return parsed ?? false;
    }),
  /** Origins allowed to call the API from a browser (comma list); empty = no CORS headers at all. */
  CORS_ORIGINS: list('', parseOriginList, 'origins like https://app.example'),
  /** Bearer token for /metrics, /workers and /readyz's worker list; unset = those answer anyone. */
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 32)').optional(),
  /** Serve /metrics on this port (and not on PORT), without the token, e.g. for a private network. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().optional(),
  /** A request's headers must arrive within this. */
  HEADERS_TIMEOUT_SECONDS: seconds(10),
  /** A whole request (headers and body) must arrive within this. */
  REQUEST_TIMEOUT_SECONDS: seconds(300),
  /** An upload sending less than UPLOAD_MIN_BYTES_PER_SECOND over this many seconds is cut off. */
  UPLOAD_STALL_SECONDS: seconds(10),
  UPLOAD_MIN_BYTES_PER_SECOND: z.coerce.number().int().min(0).default(1024),
  /** Upload bytes one API process holds in memory at once; past it, 503 + Retry-After. */
  MAX_UPLOAD_MEMORY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(128 * 1024 * 1024),
  /** Accept "true" to let npm start spawn a private redis-server when none answers. */
  START_PRIVATE_REDIS: bool(true),

  // Stalled-job recovery (docs/deploy.md, "When a machine dies"). A worker holds a lock on its job
  // and renews it every WORKER_LOCK_MS / 2; a worker that dies stops renewing, the lock expires, and
  // the next stalled check (every WORKER_STALLED_INTERVAL_MS, by any live worker) puts the job back
  // in the queue: recovery takes at most WORKER_LOCK_MS + 2 × WORKER_STALLED_INTERVAL_MS.
  /** Job lock; must outlast the longest pause of a worker's event loop (one detection on the slowest Pi). */
  WORKER_LOCK_MS: z.coerce.number().int().min(1000).default(15_000),
  /** How often live workers look for jobs whose worker died. */
  WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(5_000),
  /** Times a job may lose its worker and be retried; one more fails it (a photo that kills workers). */
  WORKER_MAX_STALLED_COUNT: z.coerce.number().int().min(0).max(20).default(2),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const parsed = configSchema.safeParse(picked);
  if (parsed.success && parsed.data.MAX_UPLOAD_MEMORY_BYTES < parsed.data.MAX_UPLOAD_BYTES) {
    throw new ConfigError(
      'invalid configuration:\n  MAX_UPLOAD_MEMORY_BYTES: must be at least MAX_UPLOAD_BYTES (else the largest uploads always get 503)',
    );
  }
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
