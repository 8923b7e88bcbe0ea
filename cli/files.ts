// What the command line names, as the files to submit and where each one's result goes.
// A file named on the line is sent whatever its extension (the server judges the bytes); a folder
// gives only its image files, and its subfolders' with --recursive. Results of an earlier run
// (*.turdified.*) and hidden entries are never picked up from a folder.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';

/** Extensions taken from folders: the formats the API reads (api/inspectImage.ts). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'];

export const RESULT_MARK = '.turdified.';

export interface InputFile {
  /** The path as the user would write it (relative to the working directory when given so). */
  path: string;
  /** Where its result goes, without the extension: `<dir>/<name>.turdified`. */
  outputBase: string;
}

export interface Collected {
  files: InputFile[];
  /** Paths that could not be read: one line each, like a failed file. */
  missing: { path: string; message: string }[];
  /** Subfolders left out for want of --recursive. */
  skippedFolders: number;
}

const isImageName = (name: string) =>
  !name.startsWith('.') &&
  !name.includes(RESULT_MARK) &&
  IMAGE_EXTENSIONS.includes(extname(name).slice(1).toLowerCase());

/** `<name>.turdified` in `outDir`: `photo.jpg` → `photo.turdified` (the format adds the extension). */
export function outputBase(file: string, outDir: string): string {
  const name = basename(file);
  const stem = extname(name) ? name.slice(0, -extname(name).length) : name;
  return join(outDir, stem + RESULT_MARK.slice(0, -1));
}

/** The files of `dir` (sorted), with those of its subfolders when `recursive`. */
async function walk(dir: string, recursive: boolean): Promise<{ files: string[]; skipped: number }> {
  const files: string[] = [];
  let skipped = 0;
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    // Symbolic links to files count; links to folders are not followed (no cycles).
    const isFile = e.isFile() || (e.isSymbolicLink() && (await stat(full).catch(() => null))?.isFile());
    if (isFile && isImageName(e.name)) files.push(full);
    else if (e.isDirectory()) {
      if (!recursive) skipped++;
      else {
        const sub = await walk(full, true);
        files.push(...sub.files);
        skipped += sub.skipped;
      }
    }
  }
  return { files, skipped };
}

/**
 * Expands the command line's paths into the files to submit, each once (a file named twice, or
 * also found in a folder, is sent once). With `out`, results of a folder's files keep their place
 * below that folder: `turdify -r -o out/ pics/` writes `pics/a/b.jpg` as `out/a/b.turdified.jpg`.
 */
export async function collectFiles(
  paths: string[],
  opts: { recursive: boolean; out?: string | undefined },
): Promise<Collected> {
  const files: InputFile[] = [];
  const missing: Collected['missing'] = [];
  const seen = new Set<string>();
  let skippedFolders = 0;
  const add = (path: string, outDir: string) => {
    const key = resolve(path);
    if (seen.has(key)) return;
    seen.add(key);
    files.push({ path, outputBase: outputBase(path, outDir) });
  };
  for (const path of paths) {
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => err);
    if (info instanceof Error) {
      missing.push({ path, message: info.code === 'ENOENT' ? 'no such file or folder' : info.message });
    } else if (info.isDirectory()) {
      const found = await walk(path, opts.recursive).catch((err: Error) => err);
      if (found instanceof Error) {
        missing.push({ path, message: `cannot read the folder: ${found.message}` });
        continue;
      }
      skippedFolders += found.skipped;
      for (const f of found.files) add(f, opts.out ? join(opts.out, relative(path, dirname(f))) : dirname(f));
    } else {
      add(path, opts.out ?? dirname(path));
    }
  }
  return { files, missing, skippedFolders };
}
