// Reads a face-api model's weights from the files inside the @vladmandic/face-api package (a
// TensorFlow.js weight manifest and its .bin), dequantised exactly as TensorFlow.js does it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const faceApiModelDir = join(
  dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')),
  'model',
);

export interface Weight {
  shape: number[];
  values: Float32Array;
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8' | 'uint16'; scale: number; min: number };
}

export interface WeightFile {
  weights: Map<string, Weight>;
  /** sha256 of the manifest and the .bin: the model file records it, so a stale one is rebuilt. */
  sha256: string;
}

export function readWeights(model: string, dir = faceApiModelDir): WeightFile {
  const manifestBytes = readFileSync(join(dir, `${model}-weights_manifest.json`));
  const groups = JSON.parse(manifestBytes.toString('utf8')) as {
    paths: string[];
    weights: ManifestEntry[];
  }[];
  const hash = createHash('sha256').update(manifestBytes);
  const weights = new Map<string, Weight>();
  for (const group of groups) {
    const bin = Buffer.concat(group.paths.map((p) => readFileSync(join(dir, p))));
    hash.update(bin);
    let offset = 0;
    for (const entry of group.weights) {
      const size = entry.shape.reduce((a, b) => a * b, 1);
      const q = entry.quantization;
      let values: Float32Array;
      if (q) {
        const bytes = q.dtype === 'uint8' ? 1 : 2;
        const raw =
          q.dtype === 'uint8'
            ? new Uint8Array(bin.buffer, bin.byteOffset + offset, size)
            : new Uint16Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + 2 * size));
        // TensorFlow.js: value = quantised × scale + min, in double precision, stored as float32.
        values = new Float32Array(size);
        for (let i = 0; i < size; i++) values[i] = raw[i]! * q.scale + q.min;
        offset += size * bytes;
      } else {
        values = new Float32Array(
          bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + 4 * size),
        );
        offset += size * 4;
      }
      if (entry.dtype === 'float32') weights.set(entry.name, { shape: entry.shape, values });
    }
    if (offset !== bin.length)
      throw new Error(`${model}: weights end at byte ${offset}, file has ${bin.length}`);
  }
  return { weights, sha256: hash.digest('hex') };
}
