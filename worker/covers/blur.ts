// mode=blur: a Gaussian blur of each face's cover shape, as strong relative to the face as on any
// other face, fading into the photo over a feathered edge.
import sharp from 'sharp';
import type { Cover } from '../../shared/covers.js';
import type { FaceBox } from '../../shared/jobs.js';
import { coverShape, growRect, shapeRect, type Rect, type Shape } from './geometry.js';
import { crop, maskedLayer, region, shapeMask, type RawImage } from './pixels.js';
import { boxShrink, enlargeBilinear } from './resample.js';
import type { CoverFn } from './types.js';

/**
 * σ = 1/8 of the face box's longer side. Each point is then spread over half the face (±2σ), more
 * than the distance between the eyes (≈ 0.4 of the box), so eyes, nose and mouth merge into one blob:
 * about what is left of a face 4 pixels across, where people still recognise familiar faces at
 * about 7 × 10 pixels (Sinha et al., "Face recognition by humans", Proc. IEEE 2006). Relative to the
 * face, so a 20 px face and a 400 px face lose the same detail; never under 1.5 px, so the smallest
 * faces still lose theirs.
 */
export const SIGMA_PER_FACE = 1 / 8;
export const MIN_SIGMA = 1.5;
/** The fade to the untouched photo, in σ: as wide as the blur itself, so there is no seam. */
export const FEATHER_SIGMAS = 1;
/**
 * Past this σ the region is box-shrunk by an integer k ≈ σ / 3, blurred there, and grown back
 * bilinearly (worker/covers/resample.ts): the same look for a fraction of the cost (libvips' kernel
 * grows with σ; a 2000 px face would need a 900-tap one). Shrinking is a blur of variance k²/12,
 * bilinear growing one of k²/6; the Gaussian on the small grid makes up the rest of σ².
 */
export const DIRECT_SIGMA = 8;
const SMALL_SIGMA = 3;

export const blurSigma = (face: FaceBox): number =>
  Math.max(MIN_SIGMA, SIGMA_PER_FACE * Math.max(face.width, face.height));

/** How far (in pixels of the shrunk grid) the shrunk mask reaches past the shape at full alpha. */
const SMALL_MARGIN = 2;

const shrinkOf = (sigma: number) => Math.floor(sigma / SMALL_SIGMA);

/** How far past the shape a face's layer stays at full alpha before its feather (full-size px). */
const fullReach = (sigma: number) => (sigma > DIRECT_SIGMA ? SMALL_MARGIN * shrinkOf(sigma) + 1 : 0);

/**
 * One face's layer: the region `r` of the photo blurred with σ (read from σ around it: where that
 * border matters the feather has already faded the layer out), the shape's feathered mask as its
 * alpha.
 *
 * Past DIRECT_SIGMA the mask is drawn on the shrunk grid too and grown back with the colour. It is
 * full over the shape scaled up by SMALL_MARGIN shrunk pixels of its shorter semi-axis (a shape
 * scaled about its centre by λ lies at least (λ − 1) × its shorter semi-axis outside it), more than
 * the reach of bilinear growing (√2 px): every pixel of the shape keeps full alpha, and the feather
 * starts that much further out (fullReach).
 */
async function blurLayer(image: RawImage, shape: Shape, r: Rect, sigma: number, feather: number) {
  const around = growRect(r, Math.ceil(sigma), image.width, image.height);
  const { channels } = image;
  if (sigma <= DIRECT_SIGMA) {
    const pixels = await region(image, around).blur(sigma).raw().toBuffer();
    return maskedLayer(crop(pixels, around, r, channels), channels, shapeMask(shape, r, feather), r);
  }
  const k = shrinkOf(sigma);
  const small = boxShrink(image, around, k);
  const blurred = await sharp(small.data, {
    raw: { width: small.width, height: small.height, channels: channels as 3 | 4 },
  })
    .blur(Math.sqrt((sigma / k) ** 2 - 1 / 4))
    .raw()
    .toBuffer();
  const rx = shape.rx / k;
  const ry = shape.ry / k;
  const grow = 1 + SMALL_MARGIN / Math.min(rx, ry);
  const smallShape: Shape = {
    kind: shape.kind,
    cx: (shape.cx - around.left) / k,
    cy: (shape.cy - around.top) / k,
    rx: rx * grow,
    ry: ry * grow,
  };
  const grid = { left: 0, top: 0, width: small.width, height: small.height };
  const mask = shapeMask(smallShape, grid, feather / k);
  const rgba = enlargeBilinear({ ...small, data: blurred }, mask, k, around.left, around.top, r);
  return {
    input: rgba,
    raw: { width: r.width, height: r.height, channels: 4 as const },
    left: r.left,
    top: r.top,
  };
}

export const blurCover: CoverFn<Extract<Cover, { mode: 'blur' }>> = async (faces, cover, ctx) => {
  const { image } = ctx;
  const layers = await Promise.all(
    faces.map(async (face) => {
      const sigma = blurSigma(face);
      const feather = FEATHER_SIGMAS * sigma;
      const shape = coverShape(face, cover.shape, cover.coverScale);
      const r = shapeRect(shape, fullReach(sigma) + feather + 1, image.width, image.height);
      if (!r) return null;
      return blurLayer(image, shape, r, sigma, feather);
    }),
  );
  return layers.filter((l) => l !== null);
};
