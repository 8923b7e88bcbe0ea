// face-api's two detectors (@vladmandic/face-api, MIT; weights in its package): SSD MobileNet v1 on
// tfjs-node, on onnxruntime-node (the same network and weights rebuilt as an ONNX graph,
// worker/onnx/, docs/onnx.md) or on WebAssembly; TinyFaceDetector on tfjs-node or WebAssembly.
import { createRequire } from 'node:module';
import type { Logger } from '../../shared/logger.js';
import { faceApiModelDir } from '../onnx/faceApiWeights.js';
import { ensureModel, SSD_MODEL } from '../onnx/modelFile.js';
import { openSsdSession, type SsdSession } from '../onnx/ssdSession.js';
import { loadFaceApi, tfOf, tryLoadNativeFaceApi, type FaceApi, type TfBackendName } from '../tfBackend.js';
import { calibrate, type Calibration } from './calibration.js';
import { selfCheckImage } from './selfCheck.js';
import type { BackendPreference, Detection, FaceDetector, RgbImage } from './types.js';

export const FACE_API_LICENCE = 'MIT (@vladmandic/face-api, code and weights)';
/** face-api squashes every photo to 512² (SSD) or its input size (Tiny): more pixels buy nothing. */
export const FACE_API_MAX_SIDE = 1024;

/**
 * Raw score → score (calibration.ts), measured on the dev set by `npm run bench -- --only=calibration`.
 */
export const SSD_CALIBRATION: Calibration = [
  [0, 0],
  [0.064, 0.017],
  [0.157, 0.151],
  [0.399, 0.463],
  [0.601, 0.646],
  [0.747, 0.795],
  [0.852, 0.887],
  [0.948, 0.975],
  [0.988, 0.986],
  [0.998, 0.986],
  [1, 0.986],
];
export const TINY_CALIBRATION: Calibration = [
  [0, 0],
  [0.069, 0.058],
  [0.169, 0.155],
  [0.388, 0.482],
  [0.609, 0.778],
  [0.759, 0.831],
  [0.875, 0.918],
  [0.966, 0.944],
  [0.987, 0.944],
  [0.997, 0.944],
  [1, 0.944],
];

export interface FaceApiOptions {
  kind: 'ssd' | 'tiny';
  tinyInputSize: number;
  backend: BackendPreference;
  /** onnx only: intra-op threads. */
  threads: number;
  /** onnx only: ONNX Runtime keeps its arena between runs (default true; runtime.ts, openSession). */
  memoryArena?: boolean;
  /** Report the model's scores as they are (benchmarks measuring the calibration). */
  rawScores?: boolean;
}

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

/** Raw scores → calibrated, then the job's threshold. */
const keep = (found: Detection[], table: Calibration, minConfidence: number) =>
  found.map((d) => ({ ...d, score: calibrate(d.score, table) })).filter((d) => d.score >= minConfidence);

/** The first detection in a process is slower (kernel setup): pay it at start, not on a job. */
async function warmUp(detector: FaceDetector): Promise<void> {
  await detector.detect({ data: Buffer.alloc(64 * 64 * 3), width: 64, height: 64 }, 0.99);
}

/**
 * The backend TF_BACKEND asks for. `auto` tries tfjs-node, then onnx (SSD only), then wasm, and
 * takes the first that loads and passes its start check; a backend asked for by name must load.
 */
export async function createFaceApiDetector(opts: FaceApiOptions, log: Logger): Promise<FaceDetector> {
  const pref = opts.backend;
  if (pref === 'tfjs-node' || pref === 'wasm') {
    const { faceapi, backend } = await loadFaceApi(pref, log);
    return faceApiDetector(faceapi, backend, opts, log);
  }
  if (pref === 'onnx') {
    if (opts.kind !== 'ssd')
      throw new Error('TF_BACKEND=onnx runs RetinaFace or SSD: use DETECTOR=retinaface or ssd');
    return createOnnxSsd(opts, log);
  }
  const native = await tryLoadNativeFaceApi();
  if (native.faceapi) {
    log.info({ backend: 'tensorflow' }, 'TensorFlow.js backend ready');
    return faceApiDetector(native.faceapi, 'tensorflow', opts, log);
  }
  log.info({ reason: native.reason }, 'tfjs-node not available');
  if (opts.kind === 'ssd') {
    try {
      return await createOnnxSsd(opts, log);
    } catch (err) {
      log.warn({ err: String(err).split('\n')[0] }, 'onnx backend failed its start check, using WebAssembly');
    }
  }
  return faceApiDetector((await loadFaceApi('wasm', log)).faceapi, 'wasm', opts, log);
}

async function faceApiDetector(
  faceapi: FaceApi,
  backend: TfBackendName,
  opts: FaceApiOptions,
  log: Logger,
): Promise<FaceDetector> {
  const started = performance.now();
  const net = opts.kind === 'ssd' ? faceapi.nets.ssdMobilenetv1 : faceapi.nets.tinyFaceDetector;
  await net.loadFromDisk(faceApiModelDir);
  // face-api refuses a threshold of 1 and reads 0 as "its default, 0.5": ask it for everything above
  // a low floor; keep() then applies the job's threshold to the calibrated score.
  const options =
    opts.kind === 'ssd'
      ? new faceapi.SsdMobilenetv1Options({ minConfidence: 0.05, maxResults: 200 })
      : new faceapi.TinyFaceDetectorOptions({ scoreThreshold: 0.05, inputSize: opts.tinyInputSize });
  const table = opts.rawScores ? [] : opts.kind === 'ssd' ? SSD_CALIBRATION : TINY_CALIBRATION;
  const run = runner(faceapi);
  const detector: FaceDetector = {
    name: opts.kind === 'ssd' ? 'ssd_mobilenetv1' : `tiny_face_detector_${opts.tinyInputSize}`,
    backend,
    weights: faceApiWeights(),
    maxSide: FACE_API_MAX_SIDE,
    detect: async (img, minConfidence) => keep(await run(img, options), table, minConfidence),
    liveTensors: () => tfOf(faceapi).memory().numTensors,
  };
  await warmUp(detector);
  log.info(
    { detector: detector.name, backend, ms: Math.round(performance.now() - started) },
    'face detector loaded',
  );
  return detector;
}

function faceApiWeights() {
  const { version } = createRequire(import.meta.url)('@vladmandic/face-api/package.json') as {
    version: string;
  };
  return { package: `@vladmandic/face-api@${version}`, licence: FACE_API_LICENCE };
}

/**
 * What face-api's SSD (on wasm) answers for selfCheckImage() with min_score 0.1: the onnx backend
 * must reproduce it at start, or it is not used. test/onnx/ checks the same numbers against face-api
 * itself, so they cannot drift from the reference.
 */
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

async function createOnnxSsd(opts: FaceApiOptions, log: Logger): Promise<FaceDetector> {
  const started = performance.now();
  const model = ensureModel(SSD_MODEL);
  if (model.origin !== 'file')
    log.info({ path: model.path, origin: model.origin, ms: model.buildMs }, 'onnx model built');
  const session = await openSsdSession(model.bytes, opts.threads, opts.memoryArena);
  await checkSession(session);
  const detector: FaceDetector = {
    name: 'ssd_mobilenetv1',
    backend: 'onnx',
    weights: faceApiWeights(),
    maxSide: FACE_API_MAX_SIDE,
    detect: async (img, minConfidence) =>
      keep(await session.detect(img, 0.05), opts.rawScores ? [] : SSD_CALIBRATION, minConfidence),
    liveTensors: () => 0,
  };
  await warmUp(detector);
  log.info(
    {
      detector: detector.name,
      backend: 'onnx',
      threads: opts.threads,
      ms: Math.round(performance.now() - started),
    },
    'face detector loaded',
  );
  return detector;
}
