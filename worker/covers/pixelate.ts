// mode=pixelate: a mosaic over each face's cover shape, blocks sized relative to the face.
import type { Cover } from '../../shared/covers.js';
import type { FaceBox } from '../../shared/jobs.js';
import { clipRect, coverShape, shapeRect } from './geometry.js';
import { maskedLayer, shapeMask } from './pixels.js';
import { boxShrink, expandBlocks } from './resample.js';
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
    const mosaic = expandBlocks(boxShrink(image, R, block, gx, gy), R, block, gx, gy);
    layers.push(maskedLayer(mosaic, image.channels, shapeMask(shape, R, 0), R));
  }
  return layers;
};
