// RetinaFace-MobileNet0.25 (InsightFace) on ONNX Runtime (native or WebAssembly): small faces at the
// photo's own resolution, with five landmarks each. worker/onnx/retinafaceModel.ts prepares the
// graph; this file feeds it, decodes its outputs, and puts the looks together: a small copy turned
// four ways to find which way up the photo is (views.ts), then one look at full size that way up.
import sharp from 'sharp';
import type { Landmarks, Point } from '../../shared/jobs.js';
import type { Logger } from '../../shared/logger.js';
import { ensureModel, retinafaceModel } from '../onnx/modelFile.js';
import {
  RETINAFACE_PACKAGE,
  retinafacePackageVersion,
  type RetinaFaceVariant,
} from '../onnx/retinafaceModel.js';
import { loadOrt, openSession, type OrtBackend, type OrtModule, type OrtSession } from '../onnx/runtime.js';
import { calibrate, type Calibration } from './calibration.js';
import { selfCheckImage } from './selfCheck.js';
import type { Detection, FaceDetector, RgbImage } from './types.js';
import { findUpright, fromTurnedDetection, turnPixels, type Turn } from './views.js';

/** Stated wherever a user chooses the detector (README, /readyz, /workers). */
export const RETINAFACE_LICENCE =
  'weights: InsightFace, non-commercial research use only; retinaface npm package code: MIT';

/**
 * Anchors from the weights' training configuration (InsightFace's retinaface.py for mnet.25: three
 * strides, base size 16, ratio 1, two scales per stride). Anchor j of a row is centred on pixel
 * 7.5 + j·stride (mxnet's generate_anchors), 16·scale pixels wide.
 */
const STRIDES = [
  { stride: 32, scales: [32, 16] },
  { stride: 16, scales: [8, 4] },
  { stride: 8, scales: [2, 1] },
] as const;
const BASE = 16;
const ANCHOR_CENTRE = 7.5;
/** InsightFace's own NMS threshold for this model. */
export const NMS_IOU = 0.4;
/** Cells scoring below this are not decoded at all (far below any useful threshold). */
export const DECODE_FLOOR = 0.02;

/**
 * RetinaFace learned WIDER FACE's tight boxes (brows to chin). The face a cover must hide, and
 * FDDB's annotations, reach the forehead: the box is grown and moved up by these fractions of its
 * size, in the face's own frame. On the dev set (docs/detection.md) this raised recall ≥ 32 px and
 * AP on both its FDDB and its WIDER photos; larger factors lost on WIDER.
 */
export const BOX_FIT = { width: 1.05, height: 1.1, up: 0.03 };

/** A face in the looked-at picture's pixels, with the raw probability. */
export type RawFace = Detection & { landmarks: Landmarks };

/** One look at `img`, enlarged or reduced by `scale` inside the graph; faces in `img`'s pixels. */
export type RetinaFaceLook = (img: RgbImage, minScore: number, scale?: number) => Promise<RawFace[]>;

export function retinafaceLook(ort: OrtModule, session: OrtSession): RetinaFaceLook {
  return async (img, minScore, scale = 1) => {
    const { width, height } = img;
    if (img.data.length !== width * height * 3) throw new Error('retinaface: expected packed RGB');
    const seenW = Math.max(1, Math.round(width * scale));
    const seenH = Math.max(1, Math.round(height * scale));
    const image = new ort.Tensor('uint8', img.data, [height, width, 3]);
    const size = new ort.Tensor('int64', BigInt64Array.of(BigInt(seenH), BigInt(seenW)), [2]);
    const out = await session.run({ image, size });
    const found: RawFace[] = [];
    const floor = Math.min(minScore, DECODE_FLOOR);
    try {
      for (const { stride, scales } of STRIDES) {
        const cls = out[`face_rpn_cls_prob_reshape_stride${stride}`]!;
        const box = out[`face_rpn_bbox_pred_stride${stride}`]!.data as Float32Array;
        const mark = out[`face_rpn_landmark_pred_stride${stride}`]!.data as Float32Array;
        const prob = cls.data as Float32Array;
        const rows = cls.dims[2]!;
        const cols = cls.dims[3]!;
        const plane = rows * cols;
        const A = scales.length;
        for (let a = 0; a < A; a++) {
          const size = BASE * scales[a]!;
          // Channels: probabilities [background × A, face × A]; boxes 4 per anchor; landmarks 10.
          const p0 = (A + a) * plane;
          const b0 = 4 * a * plane;
          const l0 = 10 * a * plane;
          for (let i = 0; i < rows; i++)
            for (let j = 0; j < cols; j++) {
              const cell = i * cols + j;
              const score = prob[p0 + cell]!;
              if (score < floor) continue;
              // Pixel-index centre → continuous coordinates (+0.5).
              const cx = ANCHOR_CENTRE + j * stride + 0.5;
              const cy = ANCHOR_CENTRE + i * stride + 0.5;
              const bx = cx + box[b0 + cell]! * size;
              const by = cy + box[b0 + plane + cell]! * size;
              const bw = size * Math.exp(box[b0 + 2 * plane + cell]!);
              const bh = size * Math.exp(box[b0 + 3 * plane + cell]!);
              const point = (k: number): Point => [
                cx + mark[l0 + 2 * k * plane + cell]! * size,
                cy + mark[l0 + (2 * k + 1) * plane + cell]! * size,
              ];
              found.push({
                x: bx - bw / 2,
                y: by - bh / 2,
                width: bw,
                height: bh,
                score,
                landmarks: {
                  left_eye: point(0),
                  right_eye: point(1),
                  nose: point(2),
                  mouth_left: point(3),
                  mouth_right: point(4),
                },
              });
            }
        }
      }
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
    const sx = width / seenW;
    const sy = height / seenH;
    return nms(found, NMS_IOU).map((f) => clip(scaledFace(fit(f), sx, sy), width, height));
  };
}

export function scaledFace(f: RawFace, sx: number, sy: number): RawFace {
  const p = ([x, y]: Point): Point => [x * sx, y * sy];
  const m = f.landmarks;
  return {
    x: f.x * sx,
    y: f.y * sy,
    width: f.width * sx,
    height: f.height * sy,
    score: f.score,
    landmarks: {
      left_eye: p(m.left_eye),
      right_eye: p(m.right_eye),
      nose: p(m.nose),
      mouth_left: p(m.mouth_left),
      mouth_right: p(m.mouth_right),
    },
  };
}

/** BOX_FIT, in the picture the face was seen in (upright in its view). */
function fit(f: RawFace): RawFace {
  const w = f.width * BOX_FIT.width;
  const h = f.height * BOX_FIT.height;
  const cx = f.x + f.width / 2;
  const cy = f.y + f.height / 2 - f.height * BOX_FIT.up;
  return { ...f, x: cx - w / 2, y: cy - h / 2, width: w, height: h };
}

/** The box's part inside the picture (landmarks stay where they were found). */
function clip<T extends Detection>(f: T, width: number, height: number): T {
  const x0 = Math.max(0, f.x);
  const y0 = Math.max(0, f.y);
  const x1 = Math.min(width, f.x + f.width);
  const y1 = Math.min(height, f.y + f.height);
  return { ...f, x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

export function boxIou(a: Detection, b: Detection): number {
  const iw = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const ih = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = iw * ih;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy non-maximum suppression: best first, dropping boxes overlapping a kept one above `iou`. */
export function nms<T extends Detection>(faces: T[], iou: number): T[] {
  const sorted = [...faces].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const f of sorted) if (!kept.some((k) => boxIou(f, k) > iou)) kept.push(f);
  return kept;
}

/** The copy's longest side the pipeline hands over; larger photos are shrunk (decided on the dev set). */
export const RETINAFACE_MAX_SIDE = 2048;
/** Photos smaller than this are looked at enlarged to it, in the graph (docs/detection.md). */
export const RETINAFACE_MIN_SIDE = 1024;
/** The small copy the orientation is found on (and large faces are found in). */
export const THUMBNAIL_SIDE = 320;
/**
 * Faces at least this large in the main look come from the thumbnail's look instead: the largest
 * anchors are 512 px (stride 32 × scale 16 × 2 in size terms), and smaller thumbnail faces only
 * added false ones on the dev set.
 */
export const LARGE_FACE = 300;
/** Raw probability a face needs to count as evidence of which way up a photo is. */
const EVIDENCE = 0.8;

/**
 * Raw probability → score (calibration.ts): measured on the dev set by `npm run bench -- --only=calibration`.
 */
export const RETINAFACE_CALIBRATION: Record<RetinaFaceVariant, Calibration> = {
  v1: [
    [0, 0],
    [0.041, 0.037],
    [0.229, 0.101],
    [0.624, 0.364],
    [0.761, 0.474],
    [0.863, 0.739],
    [0.956, 0.829],
    [0.99, 0.978],
    [0.998, 0.994],
    [1, 0.994],
  ],
  v2: [
    [0, 0],
    [0.04, 0.02],
    [0.169, 0.051],
    [0.387, 0.267],
    [0.601, 0.387],
    [0.762, 0.5],
    [0.86, 0.645],
    [0.933, 0.833],
    [0.968, 0.943],
    [0.991, 0.969],
    [0.998, 0.989],
    [1, 0.989],
  ],
};

export interface RetinaFaceOptions {
  variant: RetinaFaceVariant;
  backend: OrtBackend;
  threads: number;
  /** onnx backend: ONNX Runtime keeps its arena between runs (runtime.ts, openSession). */
  memoryArena?: boolean;
  /** Find the photo's upright turn first (90°, 180°, 270° as well as 0°). */
  turns: boolean;
  minSide?: number;
  maxSide?: number;
  /** Report the model's probabilities as they are (benchmarks measuring the calibration). */
  rawScores?: boolean;
}

export async function createRetinaFace(opts: RetinaFaceOptions, log: Logger): Promise<FaceDetector> {
  const started = performance.now();
  const model = ensureModel(retinafaceModel(opts.variant));
  if (model.origin !== 'file')
    log.info({ path: model.path, origin: model.origin, ms: model.buildMs }, 'onnx model built');
  const ort = await loadOrt(opts.backend);
  const session = await openSession(ort, opts.backend, model.bytes, opts.threads, {
    memoryArena: opts.memoryArena,
  });
  const look = retinafaceLook(ort, session);
  const minSide = opts.minSide ?? RETINAFACE_MIN_SIDE;
  const turns: readonly Turn[] = opts.turns ? [0, 90, 180, 270] : [0];
  const table = opts.rawScores ? [] : RETINAFACE_CALIBRATION[opts.variant];

  const detect = async (img: RgbImage, minConfidence: number): Promise<Detection[]> => {
    const long = Math.max(img.width, img.height);
    const thumbnail = long > THUMBNAIL_SIDE ? await shrink(img, THUMBNAIL_SIDE / long) : img;
    const upright = await findUpright(look, thumbnail, turns, DECODE_FLOOR, EVIDENCE);
    const scale = Math.max(1, minSide / long);
    const main = (await look(turnPixels(img, upright.turn), DECODE_FLOOR, scale)).map((f) =>
      fromTurnedDetection(f, upright.turn, img.width, img.height),
    );
    // The thumbnail's look at the upright turn also sees faces too large for the main look's anchors.
    const k = img.width / thumbnail.width;
    const large = (upright.faces.get(upright.turn) ?? [])
      .map((f) => scaledFace(f, k, img.height / thumbnail.height))
      .filter((f) => Math.min(f.width, f.height) * scale >= LARGE_FACE);
    return nms([...main, ...large], NMS_IOU)
      .map((f) => ({ ...f, score: calibrate(f.score, table) }))
      .filter((f) => f.score >= minConfidence);
  };
  // The first run in a process is slower (ONNX Runtime plans and allocates): pay it now, with one
  // look at the small check picture's own size. detect() on it would also look at the picture
  // enlarged to RETINAFACE_MIN_SIDE, which costs more at start than the first real job saves.
  await look(selfCheckImage(), DECODE_FLOOR, 1);
  log.info(
    {
      detector: `retinaface_mnet025_${opts.variant}`,
      backend: opts.backend,
      ms: Math.round(performance.now() - started),
    },
    'face detector loaded',
  );
  return {
    name: `retinaface_mnet025_${opts.variant}`,
    backend: opts.backend,
    weights: { package: `${RETINAFACE_PACKAGE}@${retinafacePackageVersion()}`, licence: RETINAFACE_LICENCE },
    maxSide: opts.maxSide ?? RETINAFACE_MAX_SIDE,
    detect,
    liveTensors: () => 0,
  };
}

async function shrink(img: RgbImage, scale: number): Promise<RgbImage> {
  const width = Math.max(1, Math.round(img.width * scale));
  const height = Math.max(1, Math.round(img.height * scale));
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { data, width, height };
}
