// One run of the command line: every file submitted, waited for and written, `concurrency` at a
// time, each outcome reported as it happens. Resolves with the number of files that failed.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ApiError, type ApiClient } from './api.js';
import type { CliOptions } from './args.js';
import { collectFiles, type Collected, type InputFile } from './files.js';
import { oneLine, type Reporter } from './report.js';
import { waitForJob } from './watch.js';

/** The result's extension from its content type: image/jpeg → jpg. */
export function extensionFor(contentType: string): string {
  const sub = /^image\/([a-z0-9.+-]+)/i.exec(contentType)?.[1]?.toLowerCase() ?? 'bin';
  return sub === 'jpeg' ? 'jpg' : sub;
}

const faceCount = (faces: unknown[] | undefined) => faces?.length ?? 0;

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
  const reporter = makeReporter(files.length + missing.length);
  try {
    return await submitAll(opts, api, reporter, warn, files, missing);
  } finally {
    reporter.finish();
  }
}

async function submitAll(
  opts: CliOptions,
  api: ApiClient,
  reporter: Reporter,
  warn: (line: string) => void,
  files: InputFile[],
  missing: Collected['missing'],
): Promise<number> {
  let failed = 0;
  for (const m of missing) {
    failed++;
    reporter.end({ file: m.path, status: 'failed', error: m.message });
  }
  if (files.length === 0) {
    if (missing.length === 0) warn('turdify: no image files to submit');
    return Math.max(failed, 1);
  }
  const unreachable = await api.unreachableReason();
  if (unreachable) {
    warn(`turdify: ${unreachable}; start one (npm start) or give --server / TURDIFY_URL`);
    return files.length + failed;
  }

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
      faces = ended.faces ? faceCount(ended.faces) : undefined;
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
      reporter.end({ file: name, id, status: 'completed', faces: faceCount(ended.faces), output });
    } catch (err) {
      failed++;
      const error = err instanceof Error ? err.message : String(err);
      reporter.end({ file: name, id, status: 'failed', ...(faces !== undefined ? { faces } : {}), error });
    }
  };
  await inPool(files, opts.concurrency, one);
  return failed;
}
