// mode=solid: each face's cover shape filled with one opaque colour.
import { rgbOf, type Cover } from '../../shared/covers.js';
import { coverShape, shapeRect } from './geometry.js';
import { colourLayer, shapeMask } from './pixels.js';
import type { CoverFn } from './types.js';

export const solidCover: CoverFn<Extract<Cover, { mode: 'solid' }>> = async (faces, cover, ctx) => {
  const { width, height } = ctx.image;
  const rgb = rgbOf(cover.color);
  const layers = [];
  for (const face of faces) {
    const shape = coverShape(face, cover.shape, cover.coverScale);
    const r = shapeRect(shape, 1, width, height);
    if (!r) continue;
    // Anti-aliased edge only: a feather would let the face show through its rim.
    layers.push(colourLayer(rgb, shapeMask(shape, r, 0), r));
  }
  return layers;
};
