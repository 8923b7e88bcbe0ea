// Measuring what a detector's raw score means (worker/detectors/calibration.ts): each detection on
// the dev set marked face or not as ../shared/tools/evaluate.mjs would mark it (IoU ≥ 0.5, faces
// under 20 px and flagged boxes ignored, best score first), then an isotonic fit of "was a face"
// against the raw score in bins (pool adjacent violators).
import type { Calibration } from '../../worker/detectors/calibration.js';
import type { Box } from '../../test/helpers/fixtures.js';
import { iou } from '../../test/helpers/fixtures.js';

const MIN_SIZE = 20;
const IOU = 0.5;
/** Raw-score bins: dense near 1, where most detections and every useful threshold lie. */
const BINS = [0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995, 1];

/** [raw score, was it a face] for every detection not dropped on an ignored box. */
export function labelled(
  images: { file: string; faces: Box[]; ignore: Box[] }[],
  predictions: Record<string, number[][]>,
): [number, boolean][] {
  const out: [number, boolean][] = [];
  const size = (b: Box) => Math.sqrt(b[2] * b[3]);
  for (const im of images) {
    const counted = im.faces.filter((b) => size(b) >= MIN_SIZE);
    const ignored = [...im.ignore, ...im.faces.filter((b) => size(b) < MIN_SIZE)];
    const used = counted.map(() => false);
    const dets = [...(predictions[im.file] ?? [])].sort((a, b) => b[4]! - a[4]!);
    for (const d of dets) {
      const box = d.slice(0, 4) as Box;
      let best = -1;
      let bestIou = IOU;
      counted.forEach((g, i) => {
        const v = iou(box, g);
        if (!used[i] && v >= bestIou) [best, bestIou] = [i, v];
      });
      if (best >= 0) {
        used[best] = true;
        out.push([d[4]!, true]);
      } else if (!ignored.some((g) => iou(box, g) >= IOU)) out.push([d[4]!, false]);
    }
  }
  return out;
}

/**
 * P(face | raw score) as a table of knots: the share of faces among the detections in each raw-score
 * bin, made non-decreasing by pooling adjacent bins (weighted by their counts), each knot at its
 * pool's mean raw score; 0 → 0 and 1 → the top pool's share at the ends. Shares are Laplace's
 * (faces + 1) / (detections + 2): a finite sample never proves a score certain, so no score
 * reaches 1 and min_confidence=1 keeps nothing.
 */
export function fitCalibration(samples: [number, boolean][]): Calibration {
  const pools: { sum: number; n: number; raw: number }[] = [];
  for (let i = 0; i + 1 < BINS.length; i++) {
    const inBin = samples.filter(
      ([s]) => s >= BINS[i]! && (s < BINS[i + 1]! || (i + 2 === BINS.length && s <= 1)),
    );
    if (inBin.length === 0) continue;
    pools.push({
      sum: inBin.filter(([, face]) => face).length,
      n: inBin.length,
      raw: inBin.reduce((a, [s]) => a + s, 0),
    });
    // Pool adjacent violators.
    while (pools.length > 1 && pools.at(-2)!.sum / pools.at(-2)!.n > pools.at(-1)!.sum / pools.at(-1)!.n) {
      const b = pools.pop()!;
      const a = pools.pop()!;
      pools.push({ sum: a.sum + b.sum, n: a.n + b.n, raw: a.raw + b.raw });
    }
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  let last = 0;
  const knots = pools.map((p) => {
    // Smoothing can undo the pooling's order for small pools: keep the table non-decreasing.
    last = Math.max(last, round((p.sum + 1) / (p.n + 2)));
    return [round(p.raw / p.n), last] as const;
  });
  return [[0, 0], ...knots, [1, knots.at(-1)?.[1] ?? 1]];
}
