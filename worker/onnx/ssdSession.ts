// SSD MobileNet v1 on onnxruntime-node's CPU provider: the ONNX graph does the preprocessing, the
// network, box decoding and non-maximum suppression; this file feeds it and maps boxes back to the
// image exactly as face-api's SsdMobilenetv1.locateFaces does.
import * as ort from 'onnxruntime-node';
import { cpuSessionOptions } from './runtime.js';
import { INPUT_SIZE } from './ssdMobilenetv1.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

export interface SsdSession {
  readonly threads: number;
  detect(rgb: { data: Uint8Array; width: number; height: number }, minConfidence: number): Promise<Box[]>;
  release(): Promise<void>;
}

export async function openSsdSession(
  model: Uint8Array,
  threads: number,
  memoryArena = true,
): Promise<SsdSession> {
  // ONNX Runtime's memory pattern stays on here (the default; never measured off for SSD, whose
  // network always sees 512 × 512 whatever the photo's size).
  const session = await ort.InferenceSession.create(model, cpuSessionOptions(threads, memoryArena));
  return {
    threads,
    async detect(rgb, minConfidence) {
      const { width, height } = rgb;
      if (rgb.data.length !== width * height * 3) throw new Error('detect: expected packed RGB');
      // face-api: options.minConfidence || 0.5 (0 means its default).
      const threshold = minConfidence || 0.5;
      const image = new ort.Tensor('uint8', rgb.data, [height, width, 3]);
      const minScore = new ort.Tensor('float32', Float32Array.of(threshold), [1]);
      const out = await session.run({ image, min_score: minScore });
      const boxes = out.boxes!.data as Float32Array;
      const scores = out.scores!.data as Float32Array;
      for (const t of Object.values(out)) t.dispose();
      // face-api: boxes are relative to the padded square; undo the padding using its rounded
      // "reshaped" size of the image inside the 512 square, then scale to the image.
      const scale = INPUT_SIZE / Math.max(width, height);
      const padX = INPUT_SIZE / Math.round(width * scale);
      const padY = INPUT_SIZE / Math.round(height * scale);
      const found: Box[] = [];
      for (let i = 0; i < scores.length; i++) {
        const top = Math.max(0, boxes[4 * i]!) * padY;
        const left = Math.max(0, boxes[4 * i + 1]!) * padX;
        const bottom = Math.min(1, boxes[4 * i + 2]!) * padY;
        const right = Math.min(1, boxes[4 * i + 3]!) * padX;
        found.push({
          x: left * width,
          y: top * height,
          width: (right - left) * width,
          height: (bottom - top) * height,
          score: scores[i]!,
        });
      }
      return found;
    },
    release: () => session.release(),
  };
}
