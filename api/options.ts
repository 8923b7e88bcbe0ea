// Job options from the request: multipart form fields merged over query parameters (form wins).
import { z } from 'zod';
import { DEFAULT_EMOJI, EMOJIS, isEmojiName } from '../shared/emojis.js';
import { OUTPUT_FORMATS, type InputFormat, type JobOptions, type OutputFormat } from '../shared/jobs.js';
import { HttpProblem } from './problem.js';

export const OPTION_NAMES = ['emoji', 'format', 'min_confidence', 'callback_url'] as const;

const single = z.preprocess(
  (v) => (typeof v === 'string' ? v.trim() : v),
  z.string({ error: 'must be given once, as a string' }),
);

export function optionsSchema(defaults: { minConfidence: number; format: OutputFormat }) {
  return z
    .object({
      emoji: single
        .refine(isEmojiName, {
          error: `must be one of: ${EMOJIS.map((e) => e.name).join(', ')}`,
        })
        .default(DEFAULT_EMOJI),
      format: single
        .pipe(z.enum(OUTPUT_FORMATS, { error: `must be one of: ${OUTPUT_FORMATS.join(', ')}` }))
        .default(defaults.format),
      min_confidence: single
        .refine((s) => s !== '' && Number.isFinite(Number(s)), { error: 'must be a number between 0 and 1' })
        .transform(Number)
        .pipe(z.number().min(0, { error: 'must be at least 0' }).max(1, { error: 'must be at most 1' }))
        .default(defaults.minConfidence),
      // Vetted further (scheme, address) by the route, which can resolve the host.
      callback_url: single.optional(),
    })
    .strict();
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

/** Parses and validates; throws a 400 HttpProblem naming every bad or unknown option. */
export function parseOptions(
  query: unknown,
  form: unknown,
  defaults: { minConfidence: number; inputFormat: InputFormat },
): { options: JobOptions; callbackUrl?: string } {
  const merged: Record<string, unknown> = {
    ...(isPlainRecord(query) ? query : {}),
    ...(isPlainRecord(form) ? form : {}),
  };
  // Empty strings mean "not given" (an empty form field).
  for (const [k, v] of Object.entries(merged)) if (v === '') delete merged[k];

  const unknown = Object.keys(merged).filter((k) => !(OPTION_NAMES as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new HttpProblem(400, 'unknown-option', 'Bad Request', `unknown option(s): ${unknown.join(', ')}`, {
      extensions: { unknown_options: unknown, known_options: [...OPTION_NAMES] },
    });
  }
  const schema = cachedSchema(defaults.minConfidence, defaultOutputFormat(defaults.inputFormat));
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ option: i.path.join('.'), message: i.message }));
    throw new HttpProblem(
      400,
      'invalid-option',
      'Bad Request',
      errors.map((e) => `${e.option}: ${e.message}`).join('; '),
      { extensions: { errors } },
    );
  }
  return {
    options: {
      emoji: parsed.data.emoji,
      format: parsed.data.format,
      minConfidence: parsed.data.min_confidence,
    },
    ...(parsed.data.callback_url ? { callbackUrl: parsed.data.callback_url } : {}),
  };
}
