// Geometry every cover shares, pure and testable without pixels: the face's roll from its
// landmarks (or why they were not trusted), the shapes around a face box, and rectangles clipped to
// the image.
import type { FaceBox, Point } from '../../shared/jobs.js';
import type { CoverShape } from '../../shared/covers.js';

/**
 * When the five points are not trusted, the face is treated as upright. The bounds are loose: they
 * catch points that contradict the box or each other, not merely unusual faces.
 * - Eyes may lie up to 10 % of the box's size outside it (box and points come from different heads
 *   of a detector, and RetinaFace's boxes are tight at the brow).
 * - The eyes must be at least 15 % of the box's longer side apart (and 2 px): a frontal face's are
 *   ≈ 40 %, a face in three-quarter view ≈ 25 %; closer than that, or in profile, the line between them
 *   no longer says which way the face is turned, and one pixel of error is many degrees.
 * - The mouth must lie below the eyes in the face's own frame, by at least a quarter of the eye
 *   distance (it is ≈ 1 eye distance below on a frontal face): eyes given in the wrong order, or
 *   points from another face, fail this.
 * - |roll| ≤ 100°: a face on its side (a sideways photo, someone lying down) is ±90°, plus the angle
 *   noise of a small face's points; past that the points are likelier confused than the face upside
 *   down.
 */
export const EYE_MARGIN = 0.1;
export const MIN_EYE_DISTANCE = 0.15;
export const MIN_EYE_DISTANCE_PX = 2;
export const MIN_MOUTH_DROP = 0.25;
export const MAX_ROLL_DEG = 100;

export type Roll =
  { angle: number; from: 'landmarks' } | { angle: 0; from: 'upright'; reason: 'no landmarks' | string };

/**
 * The face's roll in degrees, clockwise as seen (the image's y axis points down): the angle of the
 * line from the left eye to the right eye. Upright (0) without trustworthy landmarks.
 */
export function faceRoll(face: FaceBox): Roll {
  const lm = face.landmarks;
  if (!lm) return { angle: 0, from: 'upright', reason: 'no landmarks' };
  const points: Point[] = [lm.left_eye, lm.right_eye, lm.nose, lm.mouth_left, lm.mouth_right];
  if (!points.every((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]))) {
    return { angle: 0, from: 'upright', reason: 'landmarks are not numbers' };
  }
  const mx = EYE_MARGIN * face.width;
  const my = EYE_MARGIN * face.height;
  const inBox = ([x, y]: Point) =>
    x >= face.x - mx && x <= face.x + face.width + mx && y >= face.y - my && y <= face.y + face.height + my;
  if (!inBox(lm.left_eye) || !inBox(lm.right_eye)) {
    return { angle: 0, from: 'upright', reason: 'an eye lies outside the face box' };
  }
  const ex = lm.right_eye[0] - lm.left_eye[0];
  const ey = lm.right_eye[1] - lm.left_eye[1];
  const eyes = Math.hypot(ex, ey);
  if (eyes < Math.max(MIN_EYE_DISTANCE_PX, MIN_EYE_DISTANCE * Math.max(face.width, face.height))) {
    return { angle: 0, from: 'upright', reason: 'the eyes are too close together' };
  }
  // The mouth's drop below the eye line, along the face's own "down" (the eye line turned +90°).
  const cx = (lm.left_eye[0] + lm.right_eye[0]) / 2;
  const cy = (lm.left_eye[1] + lm.right_eye[1]) / 2;
  const mouthX = (lm.mouth_left[0] + lm.mouth_right[0]) / 2 - cx;
  const mouthY = (lm.mouth_left[1] + lm.mouth_right[1]) / 2 - cy;
  const drop = (mouthX * -ey + mouthY * ex) / eyes;
  if (drop < MIN_MOUTH_DROP * eyes) {
    return { angle: 0, from: 'upright', reason: 'the mouth is not below the eyes' };
  }
  const angle = (Math.atan2(ey, ex) * 180) / Math.PI;
  if (Math.abs(angle) > MAX_ROLL_DEG) {
    return {
      angle: 0,
      from: 'upright',
      reason: `a roll of ${Math.round(angle)}° is beyond ±${MAX_ROLL_DEG}°`,
    };
  }
  return { angle, from: 'landmarks' };
}

/** An axis-aligned ellipse or rectangle: centre and half-extents (semi-axes), in image pixels. */
export interface Shape {
  kind: CoverShape;
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}

/**
 * How the cover grows past the smallest one that hides the box: away from the chin, towards the
 * hair. At HEAD_RAISE = 1 the cover's lower edge stays where the smallest cover's is (for an
 * ellipse, 0.2 of the box below it, past the chin) and all the growth goes up and sideways, where
 * the hair and ears are; the box stays inside at any scale (a shape scaled by s around a point
 * within (s − 1) of it, in the shape's own metric, contains the unscaled one).
 */
export const HEAD_RAISE = 1;

/**
 * The cover shape around a face box at `scale` (≥ 1 hides the whole box). At 1 it is centred on the
 * box: the ellipse of the box's proportions through its corners (half-extents × √2: a corner then
 * sits at (1/√2)² + (1/√2)² = 1), or the box itself. Past 1 it grows by `scale` and rises along the
 * face's "up" (turned by the face's roll when its landmarks give one) by HEAD_RAISE × (scale − 1)
 * of its own extent in that direction. The shape itself stays upright.
 */
export function coverShape(face: FaceBox, kind: CoverShape, scale: number): Shape {
  const k = kind === 'ellipse' ? Math.SQRT2 : 1;
  const rx1 = (k * face.width) / 2;
  const ry1 = (k * face.height) / 2;
  const a = (faceRoll(face).angle * Math.PI) / 180;
  const ux = Math.sin(a);
  const uy = -Math.cos(a);
  // The shape's own norm of the unit "up" vector: how many smallest-shape extents one pixel is.
  const norm =
    kind === 'ellipse' ? Math.hypot(ux / rx1, uy / ry1) : Math.max(Math.abs(ux) / rx1, Math.abs(uy) / ry1);
  const rise = (HEAD_RAISE * Math.max(0, scale - 1)) / norm;
  return {
    kind,
    cx: face.x + face.width / 2 + rise * ux,
    cy: face.y + face.height / 2 + rise * uy,
    rx: scale * rx1,
    ry: scale * ry1,
  };
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The integer pixel rectangle covering [x0, x1) × [y0, y1), clipped to the image; null when empty. */
export function clipRect(x0: number, y0: number, x1: number, y1: number, width: number, height: number) {
  const left = Math.max(0, Math.floor(x0));
  const top = Math.max(0, Math.floor(y0));
  const right = Math.min(width, Math.ceil(x1));
  const bottom = Math.min(height, Math.ceil(y1));
  if (right <= left || bottom <= top) return null;
  return { left, top, width: right - left, height: bottom - top } satisfies Rect;
}

/** The pixels a shape grown by `margin` px touches, clipped to the image. */
export const shapeRect = (s: Shape, margin: number, width: number, height: number): Rect | null =>
  clipRect(
    s.cx - s.rx - margin,
    s.cy - s.ry - margin,
    s.cx + s.rx + margin,
    s.cy + s.ry + margin,
    width,
    height,
  );

/** `r` grown by `margin` px on every side, clipped to the image. */
export const growRect = (r: Rect, margin: number, width: number, height: number): Rect =>
  clipRect(
    r.left - margin,
    r.top - margin,
    r.left + r.width + margin,
    r.top + r.height + margin,
    width,
    height,
  )!;
