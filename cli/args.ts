// The command line: `turdify FILE|DIR… [options]`, parsed by commander (it writes --help and
// --version, checks choices and says which argument is wrong; util.parseArgs does none of that).
// Option values the server validates anyway (ranges, emoji names, colours) are passed through as
// given, so the server stays the one judge and its error says what it accepts.
import { Command, InvalidArgumentError, Option } from 'commander';
import { COVER_MODES, COVER_SHAPES } from '../shared/covers.js';
import { OUTPUT_FORMATS } from '../shared/jobs.js';

export const DEFAULT_SERVER = 'http://localhost:3000';
export const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 64;

/** A bad command line found after commander's own checks. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliOptions {
  paths: string[];
  server: string;
  apiKey?: string;
  out?: string;
  recursive: boolean;
  json: boolean;
  wait: boolean;
  concurrency: number;
  /** Job options as the API names them (form fields), only those given. */
  jobOptions: Record<string, string>;
}

function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError('not a URL (e.g. http://localhost:3000)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('must be an http:// or https:// URL');
  }
  return url.href.replace(/\/+$/, '');
}

function concurrency(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  return n;
}

/** CLI flag → API option name, for the options passed through to POST /jobs. */
const JOB_OPTIONS = {
  mode: 'mode',
  emoji: 'emoji',
  shape: 'shape',
  coverScale: 'cover_scale',
  color: 'color',
  format: 'format',
  minConfidence: 'min_confidence',
} as const;

export function buildProgram(version: string, env: NodeJS.ProcessEnv = process.env): Command {
  return new Command('turdify')
    .description(
      'Cover the faces in photos through a Turdify server: submits each image as a job, shows its ' +
        'progress, and writes the result as <name>.turdified.<ext> beside the input (or into --out). ' +
        'A folder gives its image files (jpg, jpeg, png, webp, gif, tif, tiff, avif, heic, heif), ' +
        'and those of its subfolders with --recursive; a file named on the line is sent whatever its ' +
        'extension, and the server judges it.',
    )
    .version(version, '-V, --version')
    .argument('<paths...>', 'image files and folders')
    .addOption(
      new Option('-s, --server <url>', 'the Turdify server (env TURDIFY_URL)')
        .default(env.TURDIFY_URL || DEFAULT_SERVER)
        .argParser(serverUrl),
    )
    .addOption(
      new Option('-k, --api-key <key>', 'sent as "Authorization: Bearer <key>" (env TURDIFY_API_KEY)'),
    )
    .option('-o, --out <dir>', 'write the results into this folder (default: beside each input)')
    .option('-r, --recursive', 'walk folders into their subfolders')
    .addOption(new Option('-m, --mode <mode>', 'how faces are covered').choices(COVER_MODES))
    .option('-e, --emoji <emoji>', 'emoji mode: a name, a comma list, or "random"')
    .addOption(new Option('--shape <shape>', 'blur, pixelate, solid: the cover shape').choices(COVER_SHAPES))
    .option('--cover-scale <n>', 'cover size, 1–3 × the smallest cover that hides the face box')
    .option('--color <hex>', 'solid, outline: the colour, #rgb or #rrggbb')
    .addOption(
      new Option('-f, --format <format>', "output format (default: the input's)").choices(OUTPUT_FORMATS),
    )
    .option('--min-confidence <n>', 'detection score threshold, 0–1 (default: the server’s)')
    .addOption(
      new Option('-c, --concurrency <n>', 'files in flight at once')
        .default(DEFAULT_CONCURRENCY)
        .argParser(concurrency),
    )
    .option('--json', 'print one JSON object per file and job, a line each')
    .option('--no-wait', 'submit, print each job id and file, and exit without waiting')
    .addHelpText(
      'after',
      '\nExit status: 0 when every file was turdified (or submitted, with --no-wait), 1 when any\n' +
        'failed (one line each on stderr), 2 for a usage error.\n' +
        '\nExamples:\n' +
        '  turdify photo.jpg\n' +
        '  turdify --recursive --out covered/ holiday/\n' +
        '  turdify --mode blur --shape box --format png a.jpg b.jpg\n' +
        '  TURDIFY_URL=https://turdify.example TURDIFY_API_KEY=tdy_… turdify --json *.jpg',
    )
    .showHelpAfterError('(turdify --help for the options)');
}

/** Parses argv (process.argv form); commander exits on --help, --version and usage errors. */
export function parseArgs(argv: string[], version: string, env: NodeJS.ProcessEnv = process.env): CliOptions {
  const program = buildProgram(version, env).exitOverride().parse(argv);
  const o = program.opts<Record<string, unknown>>();
  const jobOptions: Record<string, string> = {};
  for (const [flag, name] of Object.entries(JOB_OPTIONS)) {
    const v = o[flag];
    if (typeof v === 'string') jobOptions[name] = v;
  }
  const apiKey = (o.apiKey as string | undefined) || env.TURDIFY_API_KEY;
  let server = o.server as string;
  if (program.getOptionValueSource('server') !== 'cli') {
    // commander runs no argParser on a default: check TURDIFY_URL here.
    try {
      server = serverUrl(server);
    } catch (err) {
      throw new UsageError(`TURDIFY_URL ${(err as Error).message}`);
    }
  }
  return {
    paths: program.args,
    server,
    ...(apiKey ? { apiKey } : {}),
    ...(typeof o.out === 'string' ? { out: o.out } : {}),
    recursive: o.recursive === true,
    json: o.json === true,
    wait: o.wait !== false,
    concurrency: o.concurrency as number,
    jobOptions,
  };
}
