// mode=outline: draws what the detector found — each face box, its five landmarks and its score —
// without hiding any of the face, for users checking why a face was or was not covered.
import { rgbOf, type Cover } from '../../shared/covers.js';
import type { FaceBox } from '../../shared/jobs.js';
import sharp from 'sharp';
import { clipRect, faceRoll, type Rect } from './geometry.js';
import { layerOf } from './pixels.js';
import type { CoverFn } from './types.js';

/**
 * Line width: 1/60 of the face's longer side, at least 2 px. The box is stroked just outside itself,
 * so every pixel of the box stays as it was. The score label (two decimals, seven-segment digits
 * drawn as lines: no font needed, so no system font can be missing) sits above the box, or below
 * it, or right-aligned, whichever first stays in the photo and off the other faces' boxes (else
 * inside the box's top edge). Landmarks the covers trusted are filled
 * dots joined by the eye line they turn the emoji by; landmarks they ignored (faceRoll: implausible)
 * are hollow rings.
 */
export const LINE_PER_FACE = 1 / 60;
export const MIN_LINE = 2;
export const LABEL_PER_FACE = 0.2;
export const LABEL_MIN = 11;
export const LABEL_MAX = 48;

// Segments a–g of a digit (x0, y0, x1, y1 in a 1 × 2 cell).
const SEGMENTS: Record<string, [number, number, number, number]> = {
  a: [0, 0, 1, 0],
  b: [1, 0, 1, 1],
  c: [1, 1, 1, 2],
  d: [0, 2, 1, 2],
  e: [0, 1, 0, 2],
  f: [0, 0, 0, 1],
  g: [0, 1, 1, 1],
};
const DIGITS = ['abcdef', 'bc', 'abged', 'abgcd', 'fgbc', 'afgcd', 'afgedc', 'abc', 'abcdefg', 'abcdfg'];

/** SVG path data for `text` (digits and '.') with its top-left at (x, y); returns the path and width. */
export function sevenSegment(text: string, x: number, y: number, height: number) {
  const t = Math.max(1, height / 7);
  const w = height / 2 - t;
  const h = (height - t) / 2;
  const gap = height / 4;
  let cx = x + t / 2;
  const top = y + t / 2;
  const parts: string[] = [];
  for (const ch of text) {
    if (ch === '.') {
      parts.push(`M${cx} ${top + 2 * h}h0.01`);
      cx += t + gap;
      continue;
    }
    for (const seg of DIGITS[Number(ch)] ?? '') {
      const [x0, y0, x1, y1] = SEGMENTS[seg]!;
      parts.push(`M${cx + x0 * w} ${top + y0 * h}L${cx + x1 * w} ${top + y1 * h}`);
    }
    cx += w + gap;
  }
  return { d: parts.join(''), width: cx - gap - x + t / 2, stroke: t };
}

const fmt = (n: number) => Number(n.toFixed(2));

const overlaps = (a: Rect, b: { x: number; y: number; width: number; height: number }) =>
  a.left < b.x + b.width && b.x < a.left + a.width && a.top < b.y + b.height && b.y < a.top + a.height;

/** One face's drawing as an SVG layer covering just what it draws (clipped to the image). */
export function outlineSvg(
  face: FaceBox,
  color: string,
  imageWidth: number,
  imageHeight: number,
  others: FaceBox[] = [],
) {
  const longer = Math.max(face.width, face.height);
  const s = Math.max(MIN_LINE, Math.round(longer * LINE_PER_FACE));
  const [r, g, b] = rgbOf(color);
  const ink = 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 ? '#000000' : '#ffffff';

  const label = Math.round(Math.min(LABEL_MAX, Math.max(LABEL_MIN, LABEL_PER_FACE * longer)));
  const pad = Math.max(2, Math.round(label * 0.2));
  const digitHeight = label - 2 * pad;
  const text = face.score.toFixed(2);
  const measured = sevenSegment(text, 0, 0, digitHeight);
  const lw = Math.ceil(measured.width + 2 * pad);
  const [left, right] = [face.x - s, face.x + face.width + s - lw];
  const [above, below] = [face.y - s - label, face.y + face.height + s];
  const candidates: Rect[] = [
    [left, above],
    [left, below],
    [right, above],
    [right, below],
  ].map(([l, t]) => ({ left: l!, top: t!, width: lw, height: label }));
  const fits = (r: Rect) =>
    r.left >= 0 &&
    r.top >= 0 &&
    r.left + r.width <= imageWidth &&
    r.top + r.height <= imageHeight &&
    !others.some((o) => overlaps(r, o));
  const spot = candidates.find(fits) ?? { left, top: above >= 0 ? above : face.y, width: lw, height: label };
  const [lx, ly] = [spot.left, spot.top];
  const digits = sevenSegment(text, lx + pad, ly + pad, digitHeight);

  const shapes: string[] = [
    `<rect x="${fmt(face.x - s / 2)}" y="${fmt(face.y - s / 2)}" width="${fmt(face.width + s)}" height="${fmt(face.height + s)}" fill="none" stroke="${color}" stroke-width="${s}"/>`,
    `<rect x="${lx}" y="${ly}" width="${lw}" height="${label}" fill="${color}"/>`,
    `<path d="${digits.d}" fill="none" stroke="${ink}" stroke-width="${fmt(digits.stroke)}" stroke-linecap="square"/>`,
  ];
  let x0 = Math.min(face.x - s, lx);
  let y0 = Math.min(face.y - s, ly);
  let x1 = Math.max(face.x + face.width + s, lx + lw);
  let y1 = Math.max(face.y + face.height + s, ly + label);

  const lm = face.landmarks;
  if (lm) {
    const trusted = faceRoll(face).from === 'landmarks';
    const dot = Math.max(1.5, s * 1.2);
    const ring = Math.max(1, s / 2);
    const points = [lm.left_eye, lm.right_eye, lm.nose, lm.mouth_left, lm.mouth_right].filter(
      (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]),
    );
    if (trusted) {
      shapes.push(
        `<line x1="${fmt(lm.left_eye[0])}" y1="${fmt(lm.left_eye[1])}" x2="${fmt(lm.right_eye[0])}" y2="${fmt(lm.right_eye[1])}" stroke="${color}" stroke-width="${fmt(ring)}"/>`,
      );
    }
    for (const [px, py] of points) {
      shapes.push(
        trusted
          ? `<circle cx="${fmt(px)}" cy="${fmt(py)}" r="${fmt(dot)}" fill="${color}" stroke="${ink}" stroke-width="${fmt(ring / 2)}"/>`
          : `<circle cx="${fmt(px)}" cy="${fmt(py)}" r="${fmt(dot)}" fill="none" stroke="${color}" stroke-width="${fmt(ring)}"/>`,
      );
      x0 = Math.min(x0, px - dot - ring);
      y0 = Math.min(y0, py - dot - ring);
      x1 = Math.max(x1, px + dot + ring);
      y1 = Math.max(y1, py + dot + ring);
    }
  }
  const rect = clipRect(x0, y0, x1, y1, imageWidth, imageHeight);
  if (!rect) return null;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${rect.width}" height="${rect.height}" ` +
    `viewBox="${rect.left} ${rect.top} ${rect.width} ${rect.height}">${shapes.join('')}</svg>`;
  // label: where the score went (inside the box only when no spot outside it fits the picture).
  return { svg, rect, label: { left: lx, top: ly, width: lw, height: label } } satisfies {
    svg: string;
    rect: Rect;
    label: Rect;
  };
}

export const outlineCover: CoverFn<Extract<Cover, { mode: 'outline' }>> = async (faces, cover, ctx) => {
  const { width, height } = ctx.image;
  const layers = await Promise.all(
    faces.map(async (face) => {
      const drawn = outlineSvg(
        face,
        cover.color,
        width,
        height,
        faces.filter((f) => f !== face),
      );
      if (!drawn) return null;
      // librsvg draws it; the SVG's size is the layer's (72 dpi: one user unit a pixel).
      const rgba = await sharp(Buffer.from(drawn.svg)).ensureAlpha().raw().toBuffer();
      return layerOf(rgba, drawn.rect);
    }),
  );
  return layers.filter((l) => l !== null);
};
