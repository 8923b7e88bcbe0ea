// What the user sees. On a terminal: a bar per file in flight and an overall one (cli-progress, on
// stderr), each file's outcome logged above them as it ends. Otherwise one quiet line per file:
// results on stdout, failures on stderr. With --json, one JSON object per file on stdout (and the
// failure's line on stderr too, for the person watching). A failure is always one line:
// "<file>: <what went wrong> (<status> <problem type>)".
import cliProgress from 'cli-progress';

export type Outcome =
  | { file: string; id: string; status: 'completed'; faces: number; output: string }
  | { file: string; id: string; status: 'queued' }
  | { file: string; id?: string | undefined; status: 'failed'; faces?: number; error: string };

export interface Reporter {
  /** A file's state while it is in flight: what is happening and how far along (0–100). */
  update(file: string, state: string, percent: number): void;
  end(outcome: Outcome): void;
  /** After the last file: anything still to print. */
  finish(): void;
}

interface Out {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const plural = (n: number) => (n === 0 ? 'no faces' : n === 1 ? '1 face' : `${n} faces`);

/** A message on one line: a decoder's multi-line report (libvips repeats itself) joined, then cut. */
export function oneLine(message: string, maxChars = Infinity): string {
  const lines = [...new Set(message.split(/\r?\n/).map((l) => l.trim()))].filter(Boolean);
  const text = lines.join('; ');
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

/** The line an outcome is printed as (not --json). */
export function outcomeLine(o: Outcome): string {
  switch (o.status) {
    case 'completed':
      return `${o.file} → ${o.output} (${plural(o.faces)})`;
    case 'queued':
      return `${o.id}\t${o.file}`;
    case 'failed':
      return `${o.file}: ${oneLine(o.error)}`;
  }
}

/** The --json object: every field always present, null where it does not apply. */
export function outcomeJson(o: Outcome): string {
  return JSON.stringify({
    id: o.id ?? null,
    file: o.file,
    status: o.status,
    faces: 'faces' in o && o.faces !== undefined ? o.faces : null,
    output: o.status === 'completed' ? o.output : null,
    error: o.status === 'failed' ? o.error : null,
  });
}

export function lineReporter(out: Out, json: boolean): Reporter {
  let failed = 0;
  let total = 0;
  return {
    update() {},
    end(o) {
      total++;
      if (o.status === 'failed') {
        failed++;
        out.stderr.write(`${outcomeLine(o)}\n`);
      }
      if (json) out.stdout.write(`${outcomeJson(o)}\n`);
      else if (o.status !== 'failed') out.stdout.write(`${outcomeLine(o)}\n`);
    },
    finish() {
      if (failed > 0 && !json) out.stderr.write(`turdify: ${failed} of ${total} files failed\n`);
    },
  };
}

/** Bars on `stream` (a terminal); `total` files. */
export function barReporter(stream: NodeJS.WritableStream, total: number): Reporter {
  const bars = new cliProgress.MultiBar(
    {
      stream,
      format: ' {bar} {percentage}% {name} {state}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      emptyOnZero: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const overall = bars.create(total, 0, { name: 'all', state: '' });
  const perFile = new Map<string, cliProgress.SingleBar>();
  let done = 0;
  let failed = 0;
  const summary = () => `${done}/${total} files${failed ? `, ${failed} failed` : ''}`;
  overall.update(0, { state: summary() });
  return {
    update(file, state, percent) {
      let bar = perFile.get(file);
      if (!bar) perFile.set(file, (bar = bars.create(100, 0, { name: file, state })));
      bar.update(Math.round(percent), { state });
    },
    end(o) {
      const bar = perFile.get(o.file);
      if (bar) bars.remove(bar);
      perFile.delete(o.file);
      done++;
      if (o.status === 'failed') failed++;
      bars.log(`${outcomeLine(o)}\n`);
      overall.update(done, { state: summary() });
    },
    finish() {
      // stop() draws the bars but not what was logged since the last frame: draw that first.
      bars.update();
      bars.stop();
    },
  };
}
