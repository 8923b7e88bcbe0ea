// Looking at a photo more than once: turned by 90°, 180° or 270° (faces in a photo whose camera
// was held sideways, without EXIF, or people lying down) and at other scales. Works with any
// detector that takes a picture and returns boxes; the detectors themselves never know which view
// they look at.
import type { Landmarks, Point } from '../../shared/jobs.js';
import type { Detection, RgbImage } from './types.js';

export type Turn = 0 | 90 | 180 | 270;

export interface View {
  /** Clockwise turn of the picture before the look. */
  turn: Turn;
  /** Scale of the look relative to the picture (the look applies it: RetinaFace in its graph). */
  scale: number;
}

export type Look<T extends Detection = Detection> = (
  img: RgbImage,
  minScore: number,
  scale: number,
) => Promise<T[]>;

/**
 * The picture turned clockwise: a plain copy, one loop per turn with the destination index stepped
 * (no per-pixel arithmetic on coordinates).
 */
export function turnPixels(img: RgbImage, turn: Turn): RgbImage {
  if (turn === 0) return img;
  const { width: W, height: H, data } = img;
  const out = Buffer.allocUnsafe(data.length);
  const [w, h] = turn === 180 ? [W, H] : [H, W];
  // Source pixel (x, y) lands at (u, v): 90° (H−1−y, x), 180° (W−1−x, H−1−y), 270° (y, W−1−x).
  // For each source row: the destination index of its first pixel, and the step to the next.
  const rowStart = (y: number) =>
    turn === 90 ? (H - 1 - y) * 3 : turn === 180 ? ((H - 1 - y) * w + W - 1) * 3 : ((W - 1) * w + y) * 3;
  const step = turn === 90 ? w * 3 : turn === 180 ? -3 : -w * 3;
  let s = 0;
  for (let y = 0; y < H; y++) {
    let d = rowStart(y);
    for (let x = 0; x < W; x++, s += 3, d += step) {
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { data: out, width: w, height: h };
}

/** A point in the turned picture's pixels → the same point in the original picture (W × H). */
export function fromTurned([u, v]: Point, turn: Turn, W: number, H: number): Point {
  switch (turn) {
    case 0:
      return [u, v];
    case 90:
      return [v, H - u];
    case 180:
      return [W - u, H - v];
    case 270:
      return [W - v, u];
  }
}

/** A detection in the turned picture → the original: box corners and every landmark mapped back. */
export function fromTurnedDetection<T extends Detection>(d: T, turn: Turn, W: number, H: number): T {
  if (turn === 0) return d;
  const [ax, ay] = fromTurned([d.x, d.y], turn, W, H);
  const [bx, by] = fromTurned([d.x + d.width, d.y + d.height], turn, W, H);
  const mapped: T = {
    ...d,
    x: Math.min(ax, bx),
    y: Math.min(ay, by),
    width: Math.abs(bx - ax),
    height: Math.abs(by - ay),
  };
  if (d.landmarks) {
    const m = d.landmarks;
    const back = (q: Point) => fromTurned(q, turn, W, H);
    const turned: Landmarks = {
      left_eye: back(m.left_eye),
      right_eye: back(m.right_eye),
      nose: back(m.nose),
      mouth_left: back(m.mouth_left),
      mouth_right: back(m.mouth_right),
    };
    mapped.landmarks = turned;
  }
  return mapped;
}

/** Every view's detections, in the original picture's pixels (not merged). */
export async function lookThrough<T extends Detection>(
  look: Look<T>,
  img: RgbImage,
  views: View[],
  minScore: number,
): Promise<{ view: View; faces: T[] }[]> {
  const turned = new Map<Turn, RgbImage>();
  const seen: { view: View; faces: T[] }[] = [];
  for (const view of views) {
    let shown = turned.get(view.turn);
    if (!shown) turned.set(view.turn, (shown = turnPixels(img, view.turn)));
    const faces = await look(shown, minScore, view.scale);
    seen.push({ view, faces: faces.map((f) => fromTurnedDetection(f, view.turn, img.width, img.height)) });
  }
  return seen;
}

/**
 * Which way up a picture is, found by looking at a small copy turned every way `turns` allows: the
 * turn whose confident faces (≥ evidenceScore) add up to the most wins; ties, and pictures with no
 * confident face, stay as they are. On the dev set's photos turned by 90°, 180° and 270° this found
 * the upright turn for all but a handful (docs/detection.md). Every look's faces come back too, in
 * the thumbnail's own (unturned) pixels.
 */
export async function findUpright<T extends Detection>(
  look: Look<T>,
  thumbnail: RgbImage,
  turns: readonly Turn[],
  floor: number,
  evidenceScore: number,
): Promise<{ turn: Turn; faces: Map<Turn, T[]> }> {
  const faces = new Map<Turn, T[]>();
  let best: { turn: Turn; evidence: number } = { turn: 0, evidence: 0 };
  for (const turn of turns) {
    const found = await look(turnPixels(thumbnail, turn), floor, 1);
    faces.set(
      turn,
      found.map((f) => fromTurnedDetection(f, turn, thumbnail.width, thumbnail.height)),
    );
    const evidence = found.reduce((sum, f) => (f.score >= evidenceScore ? sum + f.score : sum), 0);
    if (evidence > best.evidence) best = { turn, evidence };
  }
  return { turn: best.turn, faces };
}
