// The ONNX files under models/: built by `npm run models` (run by `npm ci`'s prepare step) or, when
// missing or stale, by the worker at start, from weights inside npm packages. Never downloaded.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMetadata } from './onnxProto.js';
import { readWeights } from './faceApiWeights.js';
import {
  buildRetinaFaceOnnx,
  RETINAFACE_CONVERTER_VERSION,
  RETINAFACE_WEIGHTS,
  type RetinaFaceVariant,
} from './retinafaceModel.js';
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

export const modelsDir = join(packageRoot(), 'models');

/** How one model file is made, and how to tell that a file on disk is the one it would make. */
export interface ModelRecipe {
  file: string;
  build(): Uint8Array;
  /** Metadata a current file carries: the converter's version and its source's hash. */
  expected(): Record<string, string>;
}

export const SSD_MODEL: ModelRecipe = {
  file: 'ssd_mobilenetv1.onnx',
  build: () => buildSsdMobilenetv1Onnx().bytes,
  expected: () => ({
    converter_version: CONVERTER_VERSION,
    source_sha256: readWeights('ssd_mobilenetv1_model').sha256,
  }),
};

export const retinafaceModel = (variant: RetinaFaceVariant): ModelRecipe => ({
  file: `retinaface_mnet025_${variant}.onnx`,
  build: () => buildRetinaFaceOnnx(variant).bytes,
  expected: () => ({
    converter_version: RETINAFACE_CONVERTER_VERSION,
    source_sha256: RETINAFACE_WEIGHTS[variant].sha256,
  }),
});

/** Every model `npm run models` builds. */
export const ALL_MODELS: ModelRecipe[] = [retinafaceModel('v1'), retinafaceModel('v2'), SSD_MODEL];

export const modelPath = (recipe: ModelRecipe) => join(modelsDir, recipe.file);
/** The SSD model's path (kept for the callers that predate RetinaFace). */
export const defaultModelPath = modelPath(SSD_MODEL);

export interface ModelBytes {
  bytes: Uint8Array;
  /** Where it came from: read from the file, or built now (and written, when the path is writable). */
  origin: 'file' | 'built' | 'built-not-written';
  path: string;
  buildMs?: number;
}

/** True when the file was made by this converter from the source installed now. */
function current(bytes: Uint8Array, recipe: ModelRecipe): boolean {
  try {
    const meta = readMetadata(bytes);
    return Object.entries(recipe.expected()).every(([k, v]) => meta[k] === v);
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

/** The model's bytes: the file when it is current, else built now (and written when possible). */
export function ensureModel(recipe: ModelRecipe = SSD_MODEL, path = modelPath(recipe)): ModelBytes {
  if (existsSync(path)) {
    const bytes = readFileSync(path);
    if (current(bytes, recipe)) return { bytes, origin: 'file', path };
  }
  const started = performance.now();
  const bytes = recipe.build();
  const buildMs = Math.round(performance.now() - started);
  try {
    writeModel(path, bytes);
    return { bytes, origin: 'built', path, buildMs };
  } catch {
    // A read-only install (a container image running as an unprivileged user): use it from memory.
    return { bytes, origin: 'built-not-written', path, buildMs };
  }
}
