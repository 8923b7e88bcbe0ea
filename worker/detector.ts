// Face detectors behind one small interface, so another implementation (an ONNX runtime, say) can
// replace face-api without touching the pipeline, the worker or the API.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Logger } from '../shared/logger.js';
import { loadFaceApi, tfOf, type FaceApi, type TfBackendPreference } from './tfBackend.js';

/** Raw pixels, 3 channels (RGB), row-major. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

/** A detection in the RgbImage's pixel coordinates. */
export interface Detection {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

export interface FaceDetector {
  readonly name: string;
  readonly backend: string;
  detect(img: RgbImage, minConfidence: number): Promise<Detection[]>;
  /** Live tensors: must not grow from one job to the next. */
  liveTensors(): number;
}

/**
 * Second opinion for detections SSD is unsure of: below VERIFY_BELOW, TinyFaceDetector must also see
 * a face in a crop around the box. On the fixtures this removes a dog's face (SSD 0.79, Tiny 0.33)
 * and keeps every human face (uncertain ones score ≥ 0.67 with Tiny).
 */
const VERIFY_BELOW = 0.9;
const VERIFY_MIN_SCORE = 0.4;
const VERIFY_INPUT = 224;

export interface FaceApiDetectorOptions {
  kind: 'ssd' | 'tiny';
  /** SSD only: check uncertain detections with a second model (default true). */
  verify?: boolean;
  tinyInputSize: number;
  tfBackend: TfBackendPreference;
  log: Logger;
}

// Weights ship inside the face-api package: no network, ever.
const modelDir = join(
  dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')),
  'model',
);

export async function createFaceApiDetector(opts: FaceApiDetectorOptions): Promise<FaceDetector> {
  const { faceapi, backend } = await loadFaceApi(opts.tfBackend, opts.log);
  const started = performance.now();
  const net = opts.kind === 'ssd' ? faceapi.nets.ssdMobilenetv1 : faceapi.nets.tinyFaceDetector;
  await net.loadFromDisk(modelDir);
  const verify = opts.kind === 'ssd' && opts.verify !== false;
  if (verify) await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
  const options = (minConfidence: number) =>
    opts.kind === 'ssd'
      ? new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults: 200 })
      : new faceapi.TinyFaceDetectorOptions({ scoreThreshold: minConfidence, inputSize: opts.tinyInputSize });

  const run = async (img: RgbImage, options: object): Promise<Detection[]> => {
    const input = faceapi.tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
    try {
      const found = await faceapi.detectAllFaces(input as never, options as never);
      return found.map((d) => ({
        x: d.box.x,
        y: d.box.y,
        width: d.box.width,
        height: d.box.height,
        score: d.score,
      }));
    } finally {
      input.dispose();
    }
  };
  const confirmed = async (img: RgbImage, d: Detection): Promise<boolean> => {
    const side = Math.max(d.width, d.height);
    const left = Math.max(0, Math.round(d.x + d.width / 2 - side));
    const top = Math.max(0, Math.round(d.y + d.height / 2 - side));
    const width = Math.min(img.width - left, Math.round(2 * side));
    const height = Math.min(img.height - top, Math.round(2 * side));
    if (width < 8 || height < 8) return true;
    const crop = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .extract({ left, top, width, height })
      .resize(VERIFY_INPUT, VERIFY_INPUT, { fit: 'inside' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const second = await run(
      { data: crop.data, width: crop.info.width, height: crop.info.height },
      new faceapi.TinyFaceDetectorOptions({ inputSize: VERIFY_INPUT, scoreThreshold: VERIFY_MIN_SCORE }),
    );
    return second.some((s) => s.score >= VERIFY_MIN_SCORE);
  };

  const detector: FaceDetector = {
    name: opts.kind === 'ssd' ? 'ssd_mobilenetv1' : `tiny_face_detector_${opts.tinyInputSize}`,
    backend,
    async detect(img, minConfidence) {
      const found = await run(img, options(minConfidence));
      const kept: Detection[] = [];
      for (const d of found) {
        if (d.score < minConfidence) continue;
        if (verify && d.score < VERIFY_BELOW && !(await confirmed(img, d))) continue;
        kept.push(d);
      }
      return kept;
    },
    liveTensors: () => tfOf(faceapi).memory().numTensors,
  };
  // The first detection in a process is ~1 s slower (kernel setup): pay it at start, not on a job.
  await detector.detect({ data: Buffer.alloc(64 * 64 * 3), width: 64, height: 64 }, 0.99);
  opts.log.info(
    { detector: detector.name, backend, ms: Math.round(performance.now() - started) },
    'face detector loaded',
  );
  return detector;
}

export type { FaceApi };
