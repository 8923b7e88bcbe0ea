// Face detectors behind one small interface: face-api on TensorFlow.js (tfjs-node or WebAssembly), or
// the same SSD network and weights on onnxruntime-node (worker/onnx/, docs/onnx.md). The pipeline,
// the worker and the API do not know which one runs.
import sharp from 'sharp';
import { configSchema } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { faceApiModelDir } from './onnx/faceApiWeights.js';
import { ensureModel } from './onnx/modelFile.js';
import { onnxThreads, openSsdSession, type SsdSession } from './onnx/ssdSession.js';
import {
  loadFaceApi,
  loadWasmFaceApi,
  tfOf,
  tryLoadNativeFaceApi,
  type FaceApi,
  type TfBackendName,
} from './tfBackend.js';

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

/** TF_BACKEND: auto = the fastest that loads and passes its check: tfjs-node, then onnx, then wasm. */
export type DetectorBackendPreference = 'auto' | 'tfjs-node' | 'onnx' | 'wasm';

export interface FaceApiDetectorOptions {
  kind: 'ssd' | 'tiny';
  /** SSD only: check uncertain detections with a second model (default true). */
  verify?: boolean;
  tinyInputSize: number;
  tfBackend: DetectorBackendPreference;
  /** onnx only: intra-op threads (default: ONNX_THREADS, else cores ÷ worker processes here). */
  onnxThreads?: number;
  log: Logger;
}

// Weights ship inside the face-api package: no network, ever.
const modelDir = faceApiModelDir;

type Run = (img: RgbImage, options: object) => Promise<Detection[]>;

function runner(faceapi: FaceApi): Run {
  return async (img, options) => {
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
}

/** TinyFaceDetector's second opinion on a 2× crop around a detection (TinyFaceDetector loaded). */
function verifier(faceapi: FaceApi): (img: RgbImage, d: Detection) => Promise<boolean> {
  const run = runner(faceapi);
  return async (img, d) => {
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
}

/** SSD's detections above minConfidence, the uncertain ones only when TinyFaceDetector agrees. */
async function keepConfirmed(
  img: RgbImage,
  found: Detection[],
  minConfidence: number,
  confirm: ((img: RgbImage, d: Detection) => Promise<boolean>) | undefined,
): Promise<Detection[]> {
  const kept: Detection[] = [];
  for (const d of found) {
    if (d.score < minConfidence) continue;
    if (confirm && d.score < VERIFY_BELOW && !(await confirm(img, d))) continue;
    kept.push(d);
  }
  return kept;
}

/** The first detection in a process is slower (kernel setup): pay it at start, not on a job. */
async function warmUp(detector: FaceDetector): Promise<void> {
  await detector.detect({ data: Buffer.alloc(64 * 64 * 3), width: 64, height: 64 }, 0.99);
}

/**
 * The detector TF_BACKEND asks for. `auto` tries tfjs-node, then onnx (SSD only), then wasm, and
 * takes the first that loads and passes its start check; a backend asked for by name must load.
 * (Named for face-api, as before onnx existed; every backend goes through here.)
 */
export async function createFaceApiDetector(opts: FaceApiDetectorOptions): Promise<FaceDetector> {
  const pref = opts.tfBackend;
  const { log } = opts;
  if (pref === 'tfjs-node' || pref === 'wasm') {
    const { faceapi, backend } = await loadFaceApi(pref, log);
    return faceApiDetector(faceapi, backend, opts);
  }
  if (pref === 'onnx') {
    if (opts.kind !== 'ssd') throw new Error('TF_BACKEND=onnx runs SSD MobileNet v1 only: use DETECTOR=ssd');
    return createOnnxDetector(opts);
  }
  const native = await tryLoadNativeFaceApi();
  if (native.faceapi) {
    log.info({ backend: 'tensorflow' }, 'TensorFlow.js backend ready');
    return faceApiDetector(native.faceapi, 'tensorflow', opts);
  }
  log.info({ reason: native.reason }, 'tfjs-node not available');
  if (opts.kind === 'ssd') {
    try {
      return await createOnnxDetector(opts);
    } catch (err) {
      log.warn({ err: String(err).split('\n')[0] }, 'onnx backend failed its start check, using WebAssembly');
    }
  }
  return faceApiDetector(await loadWasmFaceApi(log), 'wasm', opts);
}

async function faceApiDetector(
  faceapi: FaceApi,
  backend: TfBackendName,
  opts: FaceApiDetectorOptions,
): Promise<FaceDetector> {
  const started = performance.now();
  const net = opts.kind === 'ssd' ? faceapi.nets.ssdMobilenetv1 : faceapi.nets.tinyFaceDetector;
  await net.loadFromDisk(modelDir);
  const verify = opts.kind === 'ssd' && opts.verify !== false;
  if (verify) await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
  // face-api refuses a threshold of 1 and reads 0 as "its default, 0.5": ask it for a threshold
  // strictly inside (0, 1); keepConfirmed then applies the exact one the job asked for.
  const options = (asked: number) => {
    const minConfidence = Math.min(0.999, Math.max(0.001, asked));
    return opts.kind === 'ssd'
      ? new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults: 200 })
      : new faceapi.TinyFaceDetectorOptions({ scoreThreshold: minConfidence, inputSize: opts.tinyInputSize });
  };
  const run = runner(faceapi);
  const confirm = verify ? verifier(faceapi) : undefined;

  const detector: FaceDetector = {
    name: opts.kind === 'ssd' ? 'ssd_mobilenetv1' : `tiny_face_detector_${opts.tinyInputSize}`,
    backend,
    async detect(img, minConfidence) {
      return keepConfirmed(img, await run(img, options(minConfidence)), minConfidence, confirm);
    },
    liveTensors: () => tfOf(faceapi).memory().numTensors,
  };
  await warmUp(detector);
  opts.log.info(
    { detector: detector.name, backend, ms: Math.round(performance.now() - started) },
    'face detector loaded',
  );
  return detector;
}

/**
 * A fixed synthetic picture and what face-api's SSD (on wasm) answers for it with min_score 0.1: the
 * onnx backend must reproduce it at start, or it is not used. test/onnx/ checks the same numbers
 * against face-api itself, so they cannot drift from the reference.
 */
export function selfCheckImage(): RgbImage {
  const width = 96;
  const height = 128;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        const dx = x - 48;
        const dy = y - 56;
        // A bright oval with two dark spots on a gradient: gives SSD something to score.
        const oval = (dx * dx) / 900 + (dy * dy) / 1600 < 1;
        const eye = (Math.abs(dx) - 12) ** 2 + (dy + 10) ** 2 < 25;
        data[(y * width + x) * 3 + c] = eye ? 30 : oval ? 200 - c * 30 : (x * 2 + y + c * 60) % 256;
      }
  return { data, width, height };
}
export const SELF_CHECK = {
  minScore: 0.1,
  top: { x: 20.3444, y: 30.1993, width: 53.5927, height: 61.818, score: 0.153707 },
};

async function checkSession(session: SsdSession): Promise<void> {
  const found = await session.detect(selfCheckImage(), SELF_CHECK.minScore);
  const top = found[0];
  const want = SELF_CHECK.top;
  const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;
  if (
    !top ||
    !close(top.score, want.score, 1e-3) ||
    !close(top.x, want.x, 0.05) ||
    !close(top.y, want.y, 0.05) ||
    !close(top.width, want.width, 0.05) ||
    !close(top.height, want.height, 0.05)
  ) {
    throw new Error(`self-check: expected ${JSON.stringify(want)}, got ${JSON.stringify(top ?? null)}`);
  }
}

/** ONNX_THREADS, or the machine's cores shared out between the worker processes npm start runs here. */
function threadsFromEnv(): number {
  const picked = configSchema.pick({ WORKERS: true, ONNX_THREADS: true }).safeParse({
    WORKERS: process.env.WORKERS || undefined,
    ONNX_THREADS: process.env.ONNX_THREADS || undefined,
  });
  if (!picked.success) return 1;
  const { WORKERS, ONNX_THREADS } = picked.data;
  return onnxThreads({ threads: ONNX_THREADS, localWorkers: WORKERS === 'auto' ? Infinity : WORKERS });
}

async function createOnnxDetector(opts: FaceApiDetectorOptions): Promise<FaceDetector> {
  const { log } = opts;
  const started = performance.now();
  const model = ensureModel();
  if (model.origin !== 'file')
    log.info({ path: model.path, origin: model.origin, ms: model.buildMs }, 'onnx model built');
  const threads = opts.onnxThreads ?? threadsFromEnv();
  const session = await openSsdSession(model.bytes, threads);
  await checkSession(session);
  // The second opinion on uncertain boxes stays on face-api's TinyFaceDetector (WebAssembly): a few
  // 224-px runs on the rare boxes scoring 0.5–0.9 (docs/onnx.md).
  const verify = opts.verify !== false;
  let faceapi: FaceApi | undefined;
  if (verify) {
    faceapi = await loadWasmFaceApi(log);
    await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
  }
  const confirm = faceapi ? verifier(faceapi) : undefined;
  const detector: FaceDetector = {
    name: 'ssd_mobilenetv1',
    backend: 'onnx',
    async detect(img, minConfidence) {
      const asked = Math.min(0.999, Math.max(0.001, minConfidence)); // as for face-api, above
      return keepConfirmed(img, await session.detect(img, asked), minConfidence, confirm);
    },
    liveTensors: () => (faceapi ? tfOf(faceapi).memory().numTensors : 0),
  };
  await warmUp(detector);
  if (confirm) await confirm(selfCheckImage(), { x: 24, y: 32, width: 48, height: 64, score: 0.5 });
  log.info(
    { detector: detector.name, backend: 'onnx', threads, ms: Math.round(performance.now() - started) },
    'face detector loaded',
  );
  return detector;
}
