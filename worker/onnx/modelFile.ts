// models/ssd_mobilenetv1.onnx: built from face-api's weights by `npm run models` (run by `npm ci`'s
// prepare step) or, when missing or stale, by the worker at start. Never downloaded.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMetadata } from './onnxProto.js';
import { readWeights } from './faceApiWeights.js';
import { buildSsdMobilenetv1Onnx, CONVERTER_VERSION } from './ssdMobilenetv1.js';

/** The package root: the nearest directory above this file with a package.json (source or dist/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

export const defaultModelPath = join(packageRoot(), 'models', 'ssd_mobilenetv1.onnx');

export interface ModelBytes {
  bytes: Uint8Array;
  /** Where it came from: read from the file, or built now (and written, when the path is writable). */
  origin: 'file' | 'built' | 'built-not-written';
  path: string;
  buildMs?: number;
}

/** True when the file was built by this converter from the weights installed now. */
function current(bytes: Uint8Array): boolean {
  try {
    const meta = readMetadata(bytes);
    return (
      meta.converter_version === CONVERTER_VERSION &&
      meta.source_sha256 === readWeights('ssd_mobilenetv1_model').sha256
    );
  } catch {
    return false;
  }
}

/** Writes atomically (temp file + rename), so concurrent workers never read half a file. */
export function writeModel(path: string, bytes: Uint8Array): void {
  // One level only: the package root exists. (A recursive mkdirSync can spin forever on some
  // filesystems under Node 20, e.g. /proc.)
  if (!existsSync(dirname(path))) mkdirSync(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** The model's bytes: the file when it is current, else built from face-api's weights now. */
export function ensureModel(path = defaultModelPath): ModelBytes {
  if (existsSync(path)) {
    const bytes = readFileSync(path);
    if (current(bytes)) return { bytes, origin: 'file', path };
  }
  const started = performance.now();
  const { bytes } = buildSsdMobilenetv1Onnx();
  const buildMs = Math.round(performance.now() - started);
  try {
    writeModel(path, bytes);
    return { bytes, origin: 'built', path, buildMs };
  } catch {
    // A read-only install (a container image running as an unprivileged user): use it from memory.
    return { bytes, origin: 'built-not-written', path, buildMs };
  }
}
