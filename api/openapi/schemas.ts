// The API's answers as zod schemas, for the OpenAPI document (components.schemas). Requests are
// described by the schemas that validate them (api/options.ts); answers are built by plain code
// (api/jobView.ts, shared/covers.ts...), so test/api/openapi.test.ts validates real answers against
// these to keep them honest. Enumerations come from the tables the code uses, never a copy.
import { z } from 'zod';
import { COVER_MODES, COVER_SHAPES } from '../../shared/covers.js';
import { JOB_ERROR_CODES } from '../../shared/errors.js';
import { INPUT_FORMATS, JOB_ID_PATTERN, OUTPUT_FORMATS } from '../../shared/jobs.js';
import { PROBLEM_SLUGS } from '../problemTypes.js';

/** Named schemas: each becomes components.schemas.<id>, referenced where it is used. */
export const components = z.registry<{ id: string; description?: string }>();

const named = <T extends z.ZodType>(id: string, description: string, schema: T): T => {
  components.add(schema, { id, description });
  return schema;
};

// Plain strings with a format: zod's own ISO and UUID checks become long patterns in the document.
const timestamp = z.string().meta({ format: 'date-time' }).nullable();
const point = z.tuple([z.number(), z.number()]);

export const Problem = named(
  'Problem',
  'RFC 9457 problem details (application/problem+json). `type` is the relative URI /problems/<slug>: GET it for an explanation. Extension members (snake_case) carry figures where useful.',
  z.looseObject({
    type: z
      .string()
      .regex(new RegExp(`^/problems/(?:${PROBLEM_SLUGS.join('|')})$`))
      .meta({ format: 'uri-reference' }),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string().optional(),
    errors: z
      .array(
        z.object({
          option: z.string(),
          message: z.string(),
          allowed: z.array(z.string()).optional(),
        }),
      )
      .optional()
      .meta({ description: 'invalid-option: each bad option, why, and the values it allows.' }),
    job_id: z.string().optional(),
    job_status: z.enum(['queued', 'active', 'completed', 'failed']).optional(),
  }),
);

export const OptionsView = named(
  'JobOptions',
  'The options the job was made with, every default that applies filled in.',
  z.object({
    mode: z.enum(COVER_MODES),
    emoji: z.string().optional(),
    shape: z.enum(COVER_SHAPES).optional(),
    cover_scale: z.number().optional(),
    color: z.string().optional(),
    format: z.enum(OUTPUT_FORMATS),
    min_confidence: z.number(),
  }),
);

export const Face = named(
  'Face',
  "A face in the output image's pixels (EXIF orientation applied); landmarks when the detector finds them.",
  z.object({
    x: z.number(),
    y: z.number(),
    width: z.number(),
    height: z.number(),
    score: z.number().min(0).max(1),
    landmarks: z
      .object({
        left_eye: point,
        right_eye: point,
        nose: point,
        mouth_left: point,
        mouth_right: point,
      })
      .optional(),
  }),
);

export const JobError = named(
  'JobError',
  'Why a job failed: a stable code and a message.',
  z.object({ code: z.enum(JOB_ERROR_CODES), message: z.string() }),
);

export const Job = named(
  'Job',
  'A job as GET /jobs/{id} shows it. faces, result, timings, backend and detector once completed; error once failed; webhook when it has a callback_url.',
  z.object({
    id: z.string().regex(JOB_ID_PATTERN),
    status: z.enum(['queued', 'active', 'completed', 'failed']),
    progress: z.int().min(0).max(100),
    created_at: timestamp,
    started_at: timestamp,
    finished_at: timestamp,
    attempts: z.int().min(0),
    options: OptionsView,
    input: z.object({
      format: z.enum(INPUT_FORMATS),
      width: z.int(),
      height: z.int(),
      bytes: z.int(),
    }),
    links: z.object({ self: z.url(), result: z.url() }),
    faces: z.array(Face).optional(),
    result: z
      .object({
        url: z.url(),
        content_type: z.string(),
        bytes: z.int(),
        width: z.int(),
        height: z.int(),
      })
      .optional(),
    timings: z.record(z.string(), z.number()).optional().meta({ description: 'Milliseconds per stage.' }),
    backend: z.string().optional(),
    detector: z.string().optional(),
    error: JobError.optional(),
    webhook: z
      .object({
        url: z.string(),
        state: z.enum(['pending', 'delivered', 'failed']),
        attempts: z.int(),
        last_status: z.int().nullable(),
        last_error: z.string().nullable(),
        last_attempt_at: z.string().nullable(),
        next_attempt_at: z.string().nullable(),
        delivered_at: z.string().nullable(),
      })
      .optional(),
  }),
);

const EmojiEntry = z.object({ name: z.string(), description: z.string(), default: z.boolean() });

export const Emojis = named('Emojis', 'The emoji catalogue.', z.object({ emojis: z.array(EmojiEntry) }));

export const Covers = named(
  'Covers',
  'The cover modes, shapes and options with their defaults, and the emoji catalogue.',
  z.object({
    modes: z.array(
      z.object({
        name: z.enum(COVER_MODES),
        default: z.boolean(),
        description: z.string(),
        options: z.array(z.string()),
        hides_identity: z.enum(['yes', 'not reliably', 'no']),
      }),
    ),
    shapes: z.array(z.object({ name: z.enum(COVER_SHAPES), default: z.boolean(), description: z.string() })),
    options: z.record(z.string(), z.looseObject({ default: z.unknown() })),
    emojis: z.array(EmojiEntry),
  }),
);

export const Health = named('Health', 'The process answers.', z.object({ status: z.literal('ok') }));

const WorkerView = named(
  'Worker',
  'One worker process from the fleet registry.',
  z.object({
    id: z.string(),
    host: z.string(),
    pid: z.int(),
    backend: z.string(),
    detector: z.string(),
    weights: z.string(),
    licence: z.string(),
    concurrency: z.int(),
    jobs_done: z.int(),
    jobs_failed: z.int(),
    tensors: z.number().nullable(),
    rss_mb: z.number().nullable(),
    started_at: timestamp,
    last_heartbeat: timestamp,
    seconds_since_heartbeat: z.number().nullable(),
  }),
);

export const Ready = named(
  'Ready',
  "Redis answers; the workers (their list only for the admin token when ADMIN_TOKEN is set), the queue's counts and the memory figures.",
  z.object({
    status: z.literal('ready'),
    redis: z.literal('ok'),
    workers: z.object({
      count: z.int(),
      backends: z.array(z.string()),
      list: z.array(WorkerView).optional(),
    }),
    queue: z.record(z.string(), z.int()),
    memory: z.object({
      queued_bytes: z.int(),
      queued_jobs: z.int(),
      max_queued_bytes: z.int(),
      reserved_bytes: z.int(),
      redis_used_memory: z.int(),
      redis_maxmemory: z.int(),
    }),
  }),
);

export const Workers = named(
  'Workers',
  'Every live worker process.',
  z.object({ count: z.int(), hosts: z.array(z.string()), workers: z.array(WorkerView) }),
);

export const ProblemTypeInfo = named(
  'ProblemType',
  'What a problem type means (GET /problems/{slug} with Accept: application/json).',
  z.object({
    slug: z.enum(PROBLEM_SLUGS as [string, ...string[]]),
    type: z.string(),
    title: z.string(),
    status: z.array(z.int()),
    explanation: z.string(),
  }),
);

export const ProblemTypes = named(
  'ProblemTypes',
  'Every problem type.',
  z.object({ problems: z.array(ProblemTypeInfo) }),
);
