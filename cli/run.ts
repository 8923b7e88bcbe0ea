// One run of the command line: every file submitted, waited for and written, `concurrency` at a
// time, each outcome reported as it happens. Resolves with the number of files that failed.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ApiError, type ApiClient } from './api.js';
import type { CliOptions } from './args.js';
import { collectFiles, type InputFile } from './files.js';
import { oneLine, outcomeLine, type Reporter } from './report.js';
import { waitForJob } from './watch.js';

/** The result's extension from its content type: image/jpeg → jpg. */
export function extensionFor(contentType: string): string {
  const sub = /^image\/([a-z0-9.+-]+)/i.exec(contentType)?.[1]?.toLowerCase() ?? 'bin';
  return sub === 'jpeg' ? 'jpg' : sub;
}

async function inPool<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

export async function run(
  opts: CliOptions,
  api: ApiClient,
  makeReporter: (files: number) => Reporter,
  warn: (line: string) => void,
): Promise<number> {
  const { files, missing, skippedFolders } = await collectFiles(opts.paths, opts);
  if (skippedFolders > 0) warn(`turdify: left out ${skippedFolders} subfolder(s); --recursive walks them`);
  if (files.length === 0 && missing.length === 0) {
    warn('turdify: no image files to submit');
    return 1;
  }
  // Before any bar is drawn: a server that does not answer is one line, not one per file.
  const unreachable = files.length > 0 ? await api.unreachableReason() : undefined;
  if (unreachable) {
    for (const m of missing) warn(outcomeLine({ file: m.path, status: 'failed', error: m.message }));
    warn(`turdify: ${unreachable}; start one (npm start) or give --server / TURDIFY_URL`);
    return files.length + missing.length;
  }
  const reporter = makeReporter(files.length + missing.length);
  try {
    for (const m of missing) reporter.end({ file: m.path, status: 'failed', error: m.message });
    return missing.length + (await submitAll(opts, api, reporter, files));
  } finally {
    reporter.finish();
  }
}

/** Submits, waits for and writes every file; resolves with how many failed. */
async function submitAll(
  opts: CliOptions,
  api: ApiClient,
  reporter: Reporter,
  files: InputFile[],
): Promise<number> {
  let failed = 0;
  // Two inputs whose results would land on one path (a.jpg from two folders into one --out): the
  // second fails rather than overwrite the first.
  const written = new Map<string, string>();
  const one = async (file: InputFile) => {
    const name = file.path;
    let id: string | undefined;
    let faces: number | undefined;
    try {
      reporter.update(name, 'uploading', 0);
      const bytes = await readFile(file.path);
      const job = await api.submit(bytes, basename(file.path), opts.jobOptions, (n) =>
        reporter.update(name, `retrying in ${n.waitSeconds} s: ${n.reason}`, 0),
      );
      id = job.id;
      if (!opts.wait) return reporter.end({ file: name, id, status: 'queued' });
      reporter.update(name, 'queued', 0);
      const ended = await waitForJob(api, id, (u) =>
        reporter.update(name, u.status === 'queued' ? 'queued' : 'covering faces', u.progress),
      );
      faces = ended.faces?.length;
      if (ended.status === 'failed') {
        const e = ended.error;
        // Cut before the code, so a decoder's long report still ends in it.
        throw new ApiError(e ? `${oneLine(e.message, 200)} (job failed: ${e.code})` : 'the job failed');
      }
      const output = `${file.outputBase}.${extensionFor(ended.result?.content_type ?? '')}`;
      const other = written.get(resolve(output));
      if (other) throw new Error(`its result would overwrite ${output}, written for ${other}`);
      written.set(resolve(output), name);
      reporter.update(name, 'downloading', 100);
      const result = await api.getResult(id);
      await mkdir(dirname(output), { recursive: true });
      await writeFile(output, result.bytes);
      reporter.end({ file: name, id, status: 'completed', faces: faces ?? 0, output });
    } catch (err) {
      failed++;
      const error = err instanceof Error ? err.message : String(err);
      reporter.end({ file: name, id, status: 'failed', ...(faces !== undefined ? { faces } : {}), error });
    }
  };
  await inPool(files, opts.concurrency, one);
  return failed;
}
