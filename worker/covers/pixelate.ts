// mode=pixelate: a mosaic over each face's cover shape, blocks sized relative to the face.
import type { Cover } from '../../shared/covers.js';
import type { FaceBox } from '../../shared/jobs.js';
import { clipRect, coverShape, shapeRect, type Rect } from './geometry.js';
import { maskedLayer, shapeMask, type RawImage } from './pixels.js';
import type { CoverFn } from './types.js';

/**
 * Blocks of 1/8 of the face box's width, the largest the mode promises ("at most about an eighth",
 * so it still reads as a mosaic), and never under 4 px: a 20 px face gets 4 px blocks, 5 across;
 * a 400 px face 50 px blocks, 8 across.
 */
export const BLOCKS_PER_FACE = 8;
export const MIN_BLOCK = 4;

export const blockSize = (face: FaceBox): number =>
  Math.max(MIN_BLOCK, Math.floor(face.width / BLOCKS_PER_FACE));

/**
 * Every block of `r` (its grid anchored at gx, gy) filled with its mean, read from the photo; with
 * an alpha channel the colour is alpha-weighted, so transparent pixels do not darken a block. Block
 * row by block row: sum each block's pixels, write one row of means, copy it down the block.
 */
export function mosaic(image: RawImage, r: Rect, block: number, gx: number, gy: number): Buffer {
  const { data, width, channels: ch } = image;
  const alpha = ch === 4 || ch === 2 ? ch - 1 : -1;
  const bx0 = Math.floor((r.left - gx) / block);
  const cols = Math.ceil((r.left + r.width - gx) / block) - bx0;
  const out = Buffer.allocUnsafe(r.width * r.height * ch);
  const rowBytes = r.width * ch;
  const sums = new Float64Array(cols * ch);
  const counts = new Float64Array(cols);
  // Each block column's pixel span within r.
  const x0s = new Int32Array(cols);
  const x1s = new Int32Array(cols);
  for (let c = 0; c < cols; c++) {
    x0s[c] = Math.max(r.left, gx + (bx0 + c) * block);
    x1s[c] = Math.min(r.left + r.width, gx + (bx0 + c + 1) * block);
  }
  const px = new Uint8Array(ch);
  for (let y0 = r.top; y0 < r.top + r.height;) {
    const y1 = Math.min(r.top + r.height, gy + (Math.floor((y0 - gy) / block) + 1) * block);
    sums.fill(0);
    counts.fill(0);
    for (let y = y0; y < y1; y++) {
      for (let c = 0; c < cols; c++) {
        const s = c * ch;
        const end = (y * width + x1s[c]!) * ch;
        if (alpha < 0 && ch === 3) {
          let r0 = 0;
          let g0 = 0;
          let b0 = 0;
          for (let i = (y * width + x0s[c]!) * 3; i < end; i += 3) {
            r0 += data[i]!;
            g0 += data[i + 1]!;
            b0 += data[i + 2]!;
          }
          sums[s] = sums[s]! + r0;
          sums[s + 1] = sums[s + 1]! + g0;
          sums[s + 2] = sums[s + 2]! + b0;
        } else {
          for (let i = (y * width + x0s[c]!) * ch; i < end; i += ch) {
            const a = alpha < 0 ? 1 : data[i + alpha]!;
            for (let k = 0; k < ch; k++)
              sums[s + k] = sums[s + k]! + (k === alpha || alpha < 0 ? data[i + k]! : data[i + k]! * a);
          }
        }
        counts[c] = counts[c]! + (x1s[c]! - x0s[c]!);
      }
    }
    // One row of means, then the block's other rows copied from it.
    const first = (y0 - r.top) * rowBytes;
    for (let c = 0; c < cols; c++) {
      const s = c * ch;
      const n = counts[c]!;
      const weight = alpha < 0 ? n : sums[s + alpha]!;
      for (let k = 0; k < ch; k++) {
        const divisor = k === alpha || alpha < 0 ? n : weight;
        px[k] = divisor > 0 ? Math.round(sums[s + k]! / divisor) : 0;
      }
      for (let x = x0s[c]!; x < x1s[c]!; x++) out.set(px, first + (x - r.left) * ch);
    }
    for (let y = y0 + 1; y < y1; y++) out.copy(out, (y - r.top) * rowBytes, first, first + rowBytes);
    y0 = y1;
  }
  return out;
}

export const pixelateCover: CoverFn<Extract<Cover, { mode: 'pixelate' }>> = async (faces, cover, ctx) => {
  const { image } = ctx;
  const layers = [];
  for (const face of faces) {
    const block = blockSize(face);
    const shape = coverShape(face, cover.shape, cover.coverScale);
    const r = shapeRect(shape, 1, image.width, image.height);
    if (!r) continue;
    // The grid starts at the shape's corner; the layer takes whole blocks, so edge blocks are means
    // of full blocks like the others.
    const gx = Math.floor(shape.cx - shape.rx);
    const gy = Math.floor(shape.cy - shape.ry);
    const snap = (v: number, g: number, up: boolean) =>
      g + (up ? Math.ceil : Math.floor)((v - g) / block) * block;
    const R = clipRect(
      snap(r.left, gx, false),
      snap(r.top, gy, false),
      snap(r.left + r.width, gx, true),
      snap(r.top + r.height, gy, true),
      image.width,
      image.height,
    )!;
    layers.push(maskedLayer(mosaic(image, R, block, gx, gy), image.channels, shapeMask(shape, R, 0), R));
  }
  return layers;
};
