// The OpenAPI 3.1 description of the HTTP API (GET /openapi.json), built at start from the zod
// schemas that validate requests (api/options.ts, the wait parameter) and describe answers
// (./schemas.ts), with zod 4's own z.toJSONSchema: it writes JSON Schema 2020-12, the dialect of
// OpenAPI 3.1, so no converter library sits between them. Built for one server's configuration:
// defaults, whether keys are required and which operator routes exist are this server's.
import { z } from 'zod';
import type { Config } from '../../shared/config.js';
import { DEFAULT_EMOJI, EMOJIS } from '../../shared/emojis.js';
import { JOB_ID_PATTERN } from '../../shared/jobs.js';
import { optionsSchema, SYNC_OPTION_NAMES } from '../options.js';
import { PROBLEM_TYPES, type ProblemSlug } from '../problemTypes.js';
import { waitSchema } from '../routes/jobs.js';
import { completedJob, failedJob, jobEvents, problemExample, queuedJob } from './examples.js';
import { components } from './schemas.js';

type Json = Record<string, unknown>;

const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });

/** A zod schema as a JSON Schema to embed: the value's side (what a string option parses to). */
function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' });
  return rest as Json;
}

/** components.schemas from the registry, without the per-schema $schema/$id zod adds. */
function componentSchemas(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(components, {
    io: 'output',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, s]) => {
      const { $schema: _s, $id: _i, ...rest } = s as Json;
      return [id, rest];
    }),
  );
}

const header = (description: string, schema: Json = { type: 'string' }): Json => ({ description, schema });
const HEADERS = {
  retryAfter: header('Seconds to wait before trying again.', { type: 'integer' }),
  wwwAuthenticate: header('RFC 6750: the realm, and error="invalid_token" for a wrong key.'),
  allow: header('The methods the path takes.'),
  location: header('The job: /jobs/{id}.'),
  rateLimit: header('IETF httpapi RateLimit (draft 8): what is left of each policy.'),
  rateLimitPolicy: header('IETF httpapi RateLimit-Policy (draft 8): the limits that apply.'),
};

/** Headers some problems carry, by slug. */
function problemHeaders(slugs: ProblemSlug[], status: number): Json {
  const h: Json = {};
  if (status === 401) h['WWW-Authenticate'] = HEADERS.wwwAuthenticate;
  if (status === 405) h.Allow = HEADERS.allow;
  if (status === 429) Object.assign(h, { 'Retry-After': HEADERS.retryAfter, RateLimit: HEADERS.rateLimit });
  if (status === 503 || slugs.includes('result-not-ready') || slugs.includes('idempotency-key-in-use')) {
    h['Retry-After'] = HEADERS.retryAfter;
  }
  if (slugs.includes('sync-timeout')) h.Location = HEADERS.location;
  return h;
}

/** One problem+json response per status, its slugs listed and shown by example. */
function problems(slugs: ProblemSlug[]): Record<string, Json> {
  const byStatus = new Map<number, ProblemSlug[]>();
  for (const slug of slugs) {
    for (const status of PROBLEM_TYPES[slug].status)
      byStatus.set(status, [...(byStatus.get(status) ?? []), slug]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => {
      const headers = problemHeaders(list, status);
      return [
        String(status),
        {
          description: `${PROBLEM_TYPES[list[0]!].title}: ${list.map((s) => `[${s}](/problems/${s})`).join(', ')}`,
          ...(Object.keys(headers).length ? { headers } : {}),
          content: {
            'application/problem+json': {
              schema: ref('Problem'),
              examples: Object.fromEntries(
                list.map((slug) => [slug, { summary: slug, value: problemExample(slug, status) }]),
              ),
            },
          },
        },
      ];
    }),
  );
}

const json = (schemaId: string, description: string, examples?: Record<string, unknown>): Json => ({
  description,
  content: {
    'application/json': {
      schema: ref(schemaId),
      ...(examples
        ? { examples: Object.fromEntries(Object.entries(examples).map(([k, value]) => [k, { value }])) }
        : {}),
    },
  },
});

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
const binary = (description: string): Json => ({
  type: 'string',
  format: 'binary',
  contentMediaType: 'application/octet-stream',
  description,
});
const imageContent = Object.fromEntries(IMAGE_TYPES.map((t) => [t, { schema: binary('The image.') }]));

/** Problems any route that reads Redis can answer. */
const REDIS: ProblemSlug[] = ['internal', 'service-unavailable'];
/** Problems of reading an upload. */
const UPLOAD: ProblemSlug[] = [
  'bad-request',
  'missing-image',
  'invalid-option',
  'unknown-option',
  'malformed-multipart',
  'request-timeout',
  'payload-too-large',
  'too-many-pixels',
  'unsupported-media-type',
  'corrupt-image',
  'rate-limited',
  'quota-exceeded',
  'queue-full',
  'storage-full',
  'uploads-busy',
];

export function buildOpenApi(config: Config, version: string): Json {
  const options = jsonSchema(optionsSchema({ minConfidence: config.MIN_CONFIDENCE, format: 'png' }));
  const optionProps = options.properties as Record<string, Json>;
  // POST /jobs: the output format defaults to the input's, not to one value.
  const jobOptionProps: Record<string, Json> = {
    ...optionProps,
    format: {
      ...Object.fromEntries(Object.entries(optionProps.format!).filter(([k]) => k !== 'default')),
      description: "The output image format; by default the input's when it is jpeg, png or webp, else png.",
    },
  };
  const syncOptionProps = Object.fromEntries(
    Object.entries(optionProps).filter(([k]) => (SYNC_OPTION_NAMES as string[]).includes(k)),
  );
  const queryParams = (props: Record<string, Json>): Json[] =>
    Object.entries(props).map(([name, schema]) => ({
      name,
      in: 'query',
      required: false,
      description: schema.description,
      schema,
    }));

  // Keys optional unless REQUIRE_API_KEY: `{}` is "no credentials".
  const clientSecurity = [{ apiKey: [] }, { apiKeyHeader: [] }, ...(config.REQUIRE_API_KEY ? [] : [{}])];
  const adminSecurity = config.ADMIN_TOKEN ? [{ adminToken: [] }] : [];
  // A wrong key is a 401 even where none is required.
  const auth: ProblemSlug[] = ['unauthorized'];

  const idParam = {
    name: 'id',
    in: 'path',
    required: true,
    description: 'The job id (a UUID, as POST /jobs answered it).',
    schema: { type: 'string', pattern: JOB_ID_PATTERN.source },
    example: queuedJob.id,
  };
  const jobOp = (o: Json): Json => ({
    tags: ['jobs'],
    security: clientSecurity,
    parameters: [idParam],
    ...o,
  });

  const paths: Record<string, Json> = {
    '/jobs': {
      post: {
        tags: ['jobs'],
        operationId: 'submitJob',
        summary: 'Submit a photo: a job that covers its faces',
        description:
          'The image as multipart/form-data (field "image") or as a raw image/* body; the options as form fields or query parameters (a form field wins). An option the chosen mode does not take is a 400. Answers 202 with the job; follow Location, or GET /jobs/{id}/events.',
        security: clientSecurity,
        parameters: [
          ...queryParams(jobOptionProps),
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description:
              'IETF httpapi draft: the same key with the same request within 24 h answers the same job; with another request, 422.',
            schema: { type: 'string', minLength: 1, maxLength: 255 },
            example: '5f0c2b1e-8d7a-4c1e-9b7e-3a2f1c0d9e8b',
          },
        ],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['image'],
                properties: {
                  image: binary(
                    `The photo (at most ${config.MAX_UPLOAD_BYTES} bytes; JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIF).`,
                  ),
                  ...jobOptionProps,
                },
                additionalProperties: false,
              },
              examples: {
                alien: {
                  summary: 'An alien on each face, as WebP',
                  value: {
                    image: '(the photo)',
                    mode: 'emoji',
                    emoji: 'alien',
                    format: 'webp',
                    min_confidence: 0.3,
                  },
                },
                blur: {
                  summary: 'A blurred box',
                  value: { image: '(the photo)', mode: 'blur', shape: 'box', cover_scale: 1.6 },
                },
              },
            },
            'image/*': { schema: binary('The photo as the whole body (options as query parameters).') },
          },
        },
        responses: {
          '202': {
            description: 'Accepted: the job, queued (or, for a replayed Idempotency-Key, as it is now).',
            headers: {
              Location: HEADERS.location,
              'Retry-After': HEADERS.retryAfter,
              RateLimit: HEADERS.rateLimit,
              'RateLimit-Policy': HEADERS.rateLimitPolicy,
              'Idempotent-Replayed': header(
                '"true" when this answers an earlier request with the same Idempotency-Key.',
              ),
            },
            content: {
              'application/json': { schema: ref('Job'), examples: { queued: { value: queuedJob } } },
            },
          },
          ...problems([
            ...UPLOAD,
            'invalid-idempotency-key',
            ...auth,
            'job-not-found',
            'idempotency-key-in-use',
            'idempotency-key-reused',
            ...REDIS,
          ]),
        },
      },
    },
    '/jobs/{id}': {
      get: jobOp({
        operationId: 'getJob',
        summary: 'A job: its status, progress and, once completed, faces and result',
        parameters: [
          idParam,
          {
            name: 'wait',
            in: 'query',
            required: false,
            description: waitSchema.description,
            schema: jsonSchema(waitSchema),
            example: 30,
          },
        ],
        responses: {
          '200': {
            ...json('Job', 'The job. Retry-After: 1 while it is not finished.', {
              completed: completedJob,
              queued: queuedJob,
              failed: failedJob,
            }),
            headers: { 'Retry-After': HEADERS.retryAfter },
          },
          ...problems(['invalid-option', 'bad-request', ...auth, 'job-not-found', ...REDIS]),
        },
      }),
      head: jobOp({
        operationId: 'headJob',
        summary: 'Whether a job exists (GET without the body)',
        responses: {
          '200': { description: 'The job exists.' },
          '404': { description: 'No such job (job-not-found).' },
        },
      }),
      delete: jobOp({
        operationId: 'deleteJob',
        summary: 'Delete a job, its upload and its result (a queued or running job is cancelled)',
        responses: { '204': { description: 'Deleted.' }, ...problems([...auth, 'job-not-found', ...REDIS]) },
      }),
    },
    '/jobs/{id}/result': {
      get: jobOp({
        operationId: 'getJobResult',
        summary: 'The covered image',
        parameters: [
          idParam,
          { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: "The image, in the job's format.",
            headers: { ETag: header('Strong ETag of the image.') },
            content: imageContent,
          },
          '304': { description: 'Not modified (If-None-Match matched the ETag).' },
          ...problems([...auth, 'job-not-found', 'result-expired', 'result-not-ready', ...REDIS]),
        },
      }),
      head: jobOp({
        operationId: 'headJobResult',
        summary: "The result image's headers (ETag, Content-Type, Content-Length)",
        responses: {
          '200': { description: 'The result is there.' },
          '404': { description: 'No such job, or the result expired.' },
          '409': { description: 'The job has no result (yet).' },
        },
      }),
    },
    '/jobs/{id}/events': {
      get: jobOp({
        operationId: 'getJobEvents',
        summary: "A job's life as Server-Sent Events",
        description:
          'First `state` (the job as GET /jobs/{id} shows it), then only forward: `active`, `progress` ({"id", "progress"}, each higher than the last), and finally `completed` or `failed` (the full job) or `removed`, after which the stream ends. A comment every 15 s keeps it open.',
        responses: {
          '200': {
            description: 'text/event-stream',
            content: { 'text/event-stream': { schema: { type: 'string' }, example: jobEvents } },
          },
          ...problems([...auth, 'job-not-found', ...REDIS]),
        },
      }),
    },
    '/turdify/': {
      post: {
        tags: ['sync'],
        operationId: 'turdify',
        summary: 'The 2021 call: upload, wait, get the image back',
        description: `The photo in multipart field "my_file"; options as query parameters (PNG unless format says otherwise). Waits up to ${config.SYNC_TIMEOUT_SECONDS} s (SYNC_TIMEOUT_SECONDS) for the job; a failed job answers the status of its error code.`,
        security: clientSecurity,
        parameters: queryParams(syncOptionProps),
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['my_file'],
                properties: { my_file: binary('The photo.') },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'The covered image.',
            headers: { 'X-Turdify-Job-Id': header('The job underneath (GET /jobs/{id} shows its faces).') },
            content: imageContent,
          },
          ...problems([
            ...UPLOAD,
            ...auth,
            'input-expired',
            'cancelled',
            'too-large',
            'unsupported-image',
            'unknown-emoji',
            'sync-timeout',
            'timeout',
            ...REDIS,
          ]),
        },
      },
    },
    '/covers': {
      get: {
        tags: ['catalogue'],
        operationId: 'getCovers',
        summary: 'The cover modes, shapes, options and defaults, and the emoji',
        responses: { '200': json('Covers', 'The catalogue.') },
      },
    },
    '/emojis': {
      get: {
        tags: ['catalogue'],
        operationId: 'getEmojis',
        summary: 'The emoji catalogue (kept for clients from before cover modes)',
        responses: { '200': json('Emojis', 'The emoji.') },
      },
    },
    '/emojis/{name}.svg': {
      get: {
        tags: ['catalogue'],
        operationId: 'getEmojiSvg',
        summary: "An emoji's art, for previews",
        parameters: [
          {
            name: 'name',
            in: 'path',
            required: true,
            description: 'An emoji name (GET /emojis).',
            schema: { type: 'string', enum: EMOJIS.map((e) => e.name) },
            example: DEFAULT_EMOJI,
          },
        ],
        responses: {
          '200': { description: 'The SVG.', content: { 'image/svg+xml': { schema: { type: 'string' } } } },
          ...problems(['not-found']),
        },
      },
    },
    '/healthz': {
      get: {
        tags: ['health'],
        operationId: 'getHealth',
        summary: 'Liveness: the process answers',
        responses: { '200': json('Health', 'Alive.', { ok: { status: 'ok' } }) },
      },
    },
    '/readyz': {
      get: {
        tags: ['health'],
        operationId: 'getReady',
        summary: 'Readiness: Redis answers; the workers, the queue and memory figures',
        description: 'The worker list only with the admin token when ADMIN_TOKEN is set.',
        security: [...adminSecurity, {}],
        responses: { '200': json('Ready', 'Ready.'), ...problems(['not-ready']) },
      },
    },
    '/workers': {
      get: {
        tags: ['operator'],
        operationId: 'getWorkers',
        summary: 'The worker fleet: host, pid, backend, jobs done, memory, last heartbeat',
        security: adminSecurity,
        responses: { '200': json('Workers', 'The live workers.'), ...problems(['unauthorized', ...REDIS]) },
      },
    },
    '/openapi.json': {
      get: {
        tags: ['docs'],
        operationId: 'getOpenApi',
        summary: 'This document',
        responses: {
          '200': {
            description: 'OpenAPI 3.1.',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    '/docs': {
      get: {
        tags: ['docs'],
        operationId: 'getDocs',
        summary: 'This document, rendered (Swagger UI, served by the API: nothing from the network)',
        responses: {
          '200': { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/problems': {
      get: {
        tags: ['docs'],
        operationId: 'getProblemTypes',
        summary: 'Every problem type (HTML, or JSON with Accept: application/json)',
        responses: {
          '200': {
            description: 'The list.',
            content: {
              'text/html': { schema: { type: 'string' } },
              'application/json': { schema: ref('ProblemTypes') },
            },
          },
        },
      },
    },
    '/problems/{slug}': {
      get: {
        tags: ['docs'],
        operationId: 'getProblemType',
        summary: "What a problem type means (where a problem's `type` points)",
        parameters: [
          {
            name: 'slug',
            in: 'path',
            required: true,
            schema: { type: 'string', enum: Object.keys(PROBLEM_TYPES) },
            example: 'job-not-found',
          },
        ],
        responses: {
          '200': {
            description: 'The explanation.',
            content: {
              'text/html': { schema: { type: 'string' } },
              'application/json': { schema: ref('ProblemType') },
            },
          },
          ...problems(['not-found']),
        },
      },
    },
    '/': {
      get: {
        tags: ['web'],
        operationId: 'getWebPage',
        summary: 'The web page: drop photos, choose a cover, download the results',
        responses: {
          '200': { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
  };
  if (config.METRICS_PORT === undefined) {
    paths['/metrics'] = {
      get: {
        tags: ['operator'],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics: request latency, queue counts, queued bytes, Redis memory, workers',
        security: adminSecurity,
        responses: {
          '200': {
            description: 'Prometheus text format.',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          ...problems(['unauthorized']),
        },
      },
    };
  }

  return {
    openapi: '3.1.1',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'Turdify',
      version,
      summary: 'Find the faces in a photo and cover each one, as an asynchronous job queue.',
      description:
        'Submit a photo (POST /jobs), follow the job (GET /jobs/{id}, ?wait=N, or its Server-Sent Events), fetch the image (GET /jobs/{id}/result). Every error is application/problem+json (RFC 9457) whose `type` is a page of this API: see [/problems](/problems). A path that exists answers another method with 405 (method-not-allowed, with Allow); an unknown path with 404 (not-found).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: config.PUBLIC_URL ?? '/' }],
    tags: [
      { name: 'jobs', description: 'The asynchronous API.' },
      { name: 'sync', description: 'The synchronous 2021 call.' },
      { name: 'catalogue', description: 'Cover modes, options and emoji.' },
      { name: 'health', description: 'Liveness and readiness.' },
      { name: 'operator', description: 'For the operator: ADMIN_TOKEN when it is set.' },
      { name: 'docs', description: 'This description and the problem types.' },
      { name: 'web', description: 'The web page.' },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      responses: problems(['not-found', 'method-not-allowed']),
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: `An API key (npm run keys -- create NAME)${config.REQUIRE_API_KEY ? ', required on this server' : '; optional on this server (REQUIRE_API_KEY is off)'}. A job belongs to the key that made it.`,
        },
        apiKeyHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'X-API-Key',
          description: 'The same API key, in its own header.',
        },
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'ADMIN_TOKEN, for the operator routes (/workers, /metrics, the worker list of /readyz) when it is set.',
        },
      },
    },
  };
}
