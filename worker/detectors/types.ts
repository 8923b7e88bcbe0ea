// What every face detector is, whatever its model or backend: pixels in, faces out. The pipeline,
// the worker and the API only see this.
import type { FaceBox } from '../../shared/jobs.js';

/** Raw pixels, 3 channels (RGB), row-major. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

/**
 * A face in the RgbImage's pixel coordinates, unrounded: a FaceBox's shape (pipeline.ts scales it to
 * the full-size photo and rounds it into one). Its score is comparable across detectors (each
 * detector's calibration): what min_confidence is compared with.
 */
export type Detection = FaceBox;

/** Where a detector's weights come from and the terms they are under (shown in /readyz and /workers). */
export interface WeightsInfo {
  /** The npm package (name@version) the weights ship in. */
  package: string;
  licence: string;
}

export interface FaceDetector {
  /** e.g. retinaface_mnet025_v1, ssd_mobilenetv1, tiny_face_detector_416. */
  readonly name: string;
  /** What runs it: onnx (onnxruntime-node), wasm, tensorflow (tfjs-node). */
  readonly backend: string;
  readonly weights: WeightsInfo;
  /** The longest side of the copy it is given: pipeline.ts shrinks larger photos to it. */
  readonly maxSide: number;
  detect(img: RgbImage, minConfidence: number): Promise<Detection[]>;
  /** Live TensorFlow.js tensors (0 without TensorFlow.js): must not grow from one job to the next. */
  liveTensors(): number;
}

export const DETECTORS = ['retinaface', 'ssd', 'tiny'] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** TF_BACKEND: auto = the fastest that loads and passes its start check for the chosen detector. */
export const BACKENDS = ['auto', 'tfjs-node', 'onnx', 'wasm'] as const;
export type BackendPreference = (typeof BACKENDS)[number];

/** Everything needed to build a detector (serialisable: it is posted to the detector thread). */
export interface DetectorSpec {
  detector: DetectorName;
  backend: BackendPreference;
  /** TinyFaceDetector's input size (multiple of 32). */
  tinyInputSize: number;
  /** onnx: intra-op threads (default: ONNX_THREADS, else cores ÷ worker processes here). */
  onnxThreads?: number;
  /** onnx: keep ONNX Runtime's memory arena between runs (ONNX_MEMORY_ARENA, default true). */
  onnxMemoryArena?: boolean;
  /** RetinaFace: which of the package's two weight files (default v1). */
  variant?: 'v1' | 'v2';
  /** RetinaFace: find which way up the photo is first (default true). */
  turns?: boolean;
  /** RetinaFace: smaller photos are looked at enlarged to this longest side. */
  minSide?: number;
  /** The longest side of the copy the pipeline hands over (default: the detector's own). */
  maxSide?: number;
  /** Benchmarks only: report the model's own scores, uncalibrated (to measure the calibration). */
  rawScores?: boolean;
}
