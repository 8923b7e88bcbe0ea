// `npm run models` (also `npm ci`'s prepare step): writes models/ssd_mobilenetv1.onnx from the SSD
// MobileNet v1 weights inside @vladmandic/face-api (docs/onnx.md). Deterministic: the same weights
// give the same bytes. `--force` rebuilds a current file; `--check` only says whether it is current.
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { defaultModelPath, ensureModel, writeModel } from '../worker/onnx/modelFile.js';
import { buildSsdMobilenetv1Onnx } from '../worker/onnx/ssdMobilenetv1.js';

const started = performance.now();
const force = process.argv.includes('--force');
const where = relative(process.cwd(), defaultModelPath) || defaultModelPath;
let bytes: Uint8Array;
let what: string;
if (force) {
  bytes = buildSsdMobilenetv1Onnx().bytes;
  writeModel(defaultModelPath, bytes);
  what = 'built';
} else {
  const model = ensureModel();
  if (model.origin === 'built-not-written') throw new Error(`cannot write ${where}`);
  bytes = model.bytes;
  what = model.origin === 'file' ? 'up to date' : 'built';
}
const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
const mb = (bytes.length / 1e6).toFixed(1);
const ms = Math.round(performance.now() - started);
console.log(`${where}: ${what} (${mb} MB, sha256 ${sha}…, ${ms} ms)`);
