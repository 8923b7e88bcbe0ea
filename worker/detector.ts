// Face detectors behind one small interface, so another implementation (an ONNX runtime, say) can
// replace face-api without touching the pipeline, the worker or the API.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

export interface FaceApiDetectorOptions {
  kind: 'ssd' | 'tiny';
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
  const options = (minConfidence: number) =>
    opts.kind === 'ssd'
      ? new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults: 200 })
      : new faceapi.TinyFaceDetectorOptions({ scoreThreshold: minConfidence, inputSize: opts.tinyInputSize });

  const detector: FaceDetector = {
    name: opts.kind === 'ssd' ? 'ssd_mobilenetv1' : `tiny_face_detector_${opts.tinyInputSize}`,
    backend,
    async detect(img, minConfidence) {
      const input = faceapi.tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
      try {
        const found = await faceapi.detectAllFaces(input as never, options(minConfidence));
        return found
          .filter((d) => d.score >= minConfidence)
          .map((d) => ({ x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height, score: d.score }));
      } finally {
        input.dispose();
      }
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
