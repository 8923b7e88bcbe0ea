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
 * an alpha channel the colour is alpha-weighted, so transparent pixels do not darken a block.
 */
export function mosaic(image: RawImage, r: Rect, block: number, gx: number, gy: number): Buffer {
  const { data, width, channels: ch } = image;
  const alpha = ch === 4 || ch === 2 ? ch - 1 : -1;
  const bx0 = Math.floor((r.left - gx) / block);
  const by0 = Math.floor((r.top - gy) / block);
  const cols = Math.ceil((r.left + r.width - gx) / block) - bx0;
  const rows = Math.ceil((r.top + r.height - gy) / block) - by0;
  // Per block: a sum per channel (colour × alpha when weighted), then the pixel count.
  const stride = ch + 1;
  const sums = new Float64Array(cols * rows * stride);
  const blockOf = (x: number, y: number) =>
    ((Math.floor((y - gy) / block) - by0) * cols + Math.floor((x - gx) / block) - bx0) * stride;
  for (let y = r.top; y < r.top + r.height; y++) {
    for (let x = r.left; x < r.left + r.width; x++) {
      const s = blockOf(x, y);
      const i = (y * width + x) * ch;
      const a = alpha < 0 ? 1 : data[i + alpha]!;
      for (let c = 0; c < ch; c++) {
        sums[s + c] = sums[s + c]! + (c === alpha || alpha < 0 ? data[i + c]! : data[i + c]! * a);
      }
      sums[s + ch] = sums[s + ch]! + 1;
    }
  }
  const out = Buffer.allocUnsafe(r.width * r.height * ch);
  const px = new Uint8Array(ch);
  for (let y = 0; y < r.height; y++) {
    let last = -1;
    for (let x = 0; x < r.width; x++) {
      const s = blockOf(r.left + x, r.top + y);
      if (s !== last) {
        const n = sums[s + ch]!;
        const weight = alpha < 0 ? n : sums[s + alpha]!;
        for (let c = 0; c < ch; c++) {
          const divisor = c === alpha || alpha < 0 ? n : weight;
          px[c] = divisor > 0 ? Math.round(sums[s + c]! / divisor) : 0;
        }
        last = s;
      }
      out.set(px, (y * r.width + x) * ch);
    }
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
