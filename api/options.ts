// Job options from the request: multipart form fields merged over query parameters (form wins).
// The cover options (mode, emoji, shape, cover_scale, color) follow shared/covers.ts.
import { z } from 'zod';
import {
  COLOR_SYNTAX,
  COVER_MODES,
  COVER_OPTIONS,
  COVER_SCALE_RANGE,
  COVER_SHAPES,
  DEFAULT_MODE,
  DEFAULT_SHAPE,
  HEX_COLOR_PATTERN,
  MAX_EMOJI_LIST,
  RANDOM_EMOJI,
  MODES,
  modesTaking,
  parseEmojiSpec,
  parseHexColor,
  resolveCover,
} from '../shared/covers.js';
import { DEFAULT_EMOJI, EMOJIS } from '../shared/emojis.js';
import { OUTPUT_FORMATS, type InputFormat, type JobOptions, type OutputFormat } from '../shared/jobs.js';
import { HttpProblem } from './problem.js';

export const OPTION_NAMES = [...COVER_OPTIONS, 'format', 'min_confidence', 'callback_url'] as const;
/** POST /turdify/ answers the image itself: no callback. */
export const SYNC_OPTION_NAMES = OPTION_NAMES.filter((n) => n !== 'callback_url');

const single = z.preprocess(
  (v) => (typeof v === 'string' ? v.trim() : v),
  z.string({ error: 'must be given once, as a string' }),
);

/** A number given as a string (form field, query parameter) within [min, max]. */
export const numberIn = (min: number, max: number) =>
  single
    .refine((s) => s !== '' && Number.isFinite(Number(s)), {
      error: `must be a number from ${min} to ${max}`,
    })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    );

/** The emoji option's syntax as a regular expression: one name, a comma list of names, or random. */
const EMOJI_NAME = `(?:${EMOJIS.map((e) => e.name).join('|')})`;
const EMOJI_SPEC_PATTERN = `^(?:${RANDOM_EMOJI}|${EMOJI_NAME}(?:,${EMOJI_NAME}){0,${MAX_EMOJI_LIST - 1}})$`;

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  single.pipe(z.enum(values, { error: `must be one of: ${values.join(', ')}` }));

export function optionsSchema(defaults: { minConfidence: number; format: OutputFormat }) {
  return z
    .object({
      mode: oneOf(COVER_MODES)
        .meta({
          description: `How faces are covered (default ${DEFAULT_MODE}): ${COVER_MODES.map((m) => `${m}: ${MODES[m].description}`).join(' ')}`,
        })
        .optional(),
      emoji: single
        .transform((s, ctx) => {
          const parsed = parseEmojiSpec(s);
          if ('spec' in parsed) return parsed.spec;
          ctx.addIssue({ code: 'custom', message: parsed.error });
          return z.NEVER;
        })
        // What the transform checks, for the OpenAPI document (JSON Schema cannot see into it).
        .meta({
          type: 'string',
          pattern: EMOJI_SPEC_PATTERN,
          description: `An emoji name (GET /emojis), a comma list of up to ${MAX_EMOJI_LIST} (faces take them in turn), or ${RANDOM_EMOJI}.`,
          examples: [DEFAULT_EMOJI, `${EMOJIS[0]!.name},${EMOJIS[1]!.name}`, RANDOM_EMOJI],
        })
        .optional(),
      shape: oneOf(COVER_SHAPES)
        .meta({
          description: `The cover's shape (${modesTaking('shape').join(', ')}; default ${DEFAULT_SHAPE}).`,
        })
        .optional(),
      cover_scale: numberIn(COVER_SCALE_RANGE.min, COVER_SCALE_RANGE.max)
        .meta({
          description: `Multiple of the smallest cover of the shape that hides the whole face box (${modesTaking('cover_scale').join(', ')}; defaults in GET /covers).`,
        })
        .optional(),
      color: single
        .transform((s, ctx) => {
          const color = parseHexColor(s);
          if (color) return color;
          ctx.addIssue({ code: 'custom', message: `must be a CSS hex colour: ${COLOR_SYNTAX}` });
          return z.NEVER;
        })
        .meta({
          type: 'string',
          pattern: HEX_COLOR_PATTERN.source,
          description: `A CSS hex colour: ${COLOR_SYNTAX}.`,
          examples: ['#ff00ff', 'fff'],
        })
        .optional(),
      format: oneOf(OUTPUT_FORMATS)
        .default(defaults.format)
        .meta({ description: 'The output image format.' }),
      min_confidence: numberIn(0, 1)
        .default(defaults.minConfidence)
        .meta({ description: 'Detections scoring below this (calibrated) score are ignored.' }),
      // Vetted further (scheme, address) by the route, which can resolve the host.
      callback_url: single
        .meta({
          format: 'uri',
          description:
            'POST /jobs only: where to POST the job.completed or job.failed webhook (needs WEBHOOK_SECRET on the server; private addresses refused).',
        })
        .optional(),
    })
    .strict()
    .superRefine((o, ctx) => {
      // An option the chosen mode does not take is a mistake worth saying, not something to ignore.
      const mode = o.mode ?? DEFAULT_MODE;
      for (const name of COVER_OPTIONS) {
        if (name === 'mode' || o[name] === undefined) continue;
        if ((MODES[mode].options as readonly string[]).includes(name)) continue;
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message:
            `does not apply to mode ${mode} (it applies to ${modesTaking(name).join(', ')}); ` +
            `mode ${mode} takes ${MODES[mode].options.join(', ') || 'no cover options'}`,
        });
      }
    });
}

/** The values an option accepts, for the `allowed` member of its error (enumerations only). */
function allowedValues(option: string): readonly string[] | undefined {
  if (option === 'mode') return COVER_MODES;
  if (option === 'shape') return COVER_SHAPES;
  if (option === 'format') return OUTPUT_FORMATS;
  return undefined;
}

/** The output format used when the request names none: the input's, when it is one we can write. */
export function defaultOutputFormat(input: InputFormat): OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(input) ? (input as OutputFormat) : 'png';
}

const isPlainRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

// Building a zod schema costs far more than using one: one per (default confidence, format).
const schemas = new Map<string, ReturnType<typeof optionsSchema>>();
function cachedSchema(minConfidence: number, format: OutputFormat) {
  const key = `${minConfidence}/${format}`;
  let schema = schemas.get(key);
  if (!schema) schemas.set(key, (schema = optionsSchema({ minConfidence, format })));
  return schema;
}

/** Throws the 400 for one bad option, in the same shape as schema errors. */
export function invalidOption(option: string, message: string): HttpProblem {
  return new HttpProblem(400, 'invalid-option', 'Bad Request', `${option}: ${message}`, {
    extensions: { errors: [{ option, message }] },
  });
}

/**
 * Parses and validates; throws a 400 HttpProblem naming every bad or unknown option. The output
 * format defaults to the input's (or `defaults.format` when given: /turdify/ answers PNG); `names`
 * are the options the route takes.
 */
export function parseOptions(
  query: unknown,
  form: unknown,
  defaults: { minConfidence: number; inputFormat: InputFormat; format?: OutputFormat },
  names: readonly string[] = OPTION_NAMES,
): { options: JobOptions; callbackUrl?: string } {
  const merged: Record<string, unknown> = {
    ...(isPlainRecord(query) ? query : {}),
    ...(isPlainRecord(form) ? form : {}),
  };
  // Empty strings mean "not given" (an empty form field).
  for (const [k, v] of Object.entries(merged)) if (v === '') delete merged[k];

  const unknown = Object.keys(merged).filter((k) => !names.includes(k));
  if (unknown.length > 0) {
    throw new HttpProblem(400, 'unknown-option', 'Bad Request', `unknown option(s): ${unknown.join(', ')}`, {
      extensions: { unknown_options: unknown, known_options: [...names] },
    });
  }
  const schema = cachedSchema(
    defaults.minConfidence,
    defaults.format ?? defaultOutputFormat(defaults.inputFormat),
  );
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => {
      const option = i.path.join('.');
      const allowed = allowedValues(option);
      return { option, message: i.message, ...(allowed ? { allowed } : {}) };
    });
    throw new HttpProblem(
      400,
      'invalid-option',
      'Bad Request',
      errors.map((e) => `${e.option}: ${e.message}`).join('; '),
      { extensions: { errors } },
    );
  }
  const o = parsed.data;
  // Stored with every default that applies filled in, so the job record says what was done.
  const cover = resolveCover({
    ...(o.mode ? { mode: o.mode } : {}),
    ...(o.emoji ? { emoji: o.emoji } : {}),
    ...(o.shape ? { shape: o.shape } : {}),
    ...(o.cover_scale !== undefined ? { coverScale: o.cover_scale } : {}),
    ...(o.color ? { color: o.color } : {}),
    format: o.format,
    minConfidence: o.min_confidence,
  });
  return {
    options: { ...cover, format: o.format, minConfidence: o.min_confidence },
    ...(o.callback_url ? { callbackUrl: o.callback_url } : {}),
  };
}
