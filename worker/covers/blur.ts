// mode=blur: a Gaussian blur of each face's cover shape, as strong relative to the face as on any
// other face, fading into the photo over a feathered edge.
import sharp from 'sharp';
import type { Cover } from '../../shared/covers.js';
import type { FaceBox } from '../../shared/jobs.js';
import { coverShape, growRect, shapeRect } from './geometry.js';
import { crop, maskedLayer, region, shapeMask, type RawImage } from './pixels.js';
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
 * Past this σ the region is shrunk by σ / SMALL_SIGMA, blurred there and enlarged back: the same
 * look for a fraction of the cost (libvips' kernel grows with σ; a 2000 px face would need a
 * 900-tap one).
 */
export const DIRECT_SIGMA = 8;
const SMALL_SIGMA = 4;

export const blurSigma = (face: FaceBox): number =>
  Math.max(MIN_SIGMA, SIGMA_PER_FACE * Math.max(face.width, face.height));

/** The region `r` of the photo blurred with σ, its border read from the photo around it. */
async function blurred(image: RawImage, r: ReturnType<typeof growRect>, sigma: number): Promise<Buffer> {
  // libvips' Gaussian is cut where it falls under 0.2 of its peak (1.8σ): read that far around.
  const around = growRect(r, Math.ceil(2 * sigma), image.width, image.height);
  const { channels } = image;
  let out: Buffer;
  if (sigma <= DIRECT_SIGMA) {
    out = await region(image, around).blur(sigma).raw().toBuffer();
  } else {
    const k = sigma / SMALL_SIGMA;
    const w = Math.max(1, Math.round(around.width / k));
    const h = Math.max(1, Math.round(around.height / k));
    // Shrinking averages k × k pixels (itself a blur of ≈ k/√12): blur the rest of the way there.
    const small = await region(image, around)
      .resize(w, h, { fit: 'fill' })
      .blur(Math.sqrt(SMALL_SIGMA ** 2 - 1 / 12))
      .raw()
      .toBuffer();
    out = await sharp(small, { raw: { width: w, height: h, channels: channels as 3 | 4 } })
      .resize(around.width, around.height, { fit: 'fill', kernel: 'cubic' })
      .raw()
      .toBuffer();
  }
  return crop(out, around, r, channels);
}

export const blurCover: CoverFn<Extract<Cover, { mode: 'blur' }>> = async (faces, cover, ctx) => {
  const { image } = ctx;
  const layers = await Promise.all(
    faces.map(async (face) => {
      const sigma = blurSigma(face);
      const feather = FEATHER_SIGMAS * sigma;
      const shape = coverShape(face, cover.shape, cover.coverScale);
      const r = shapeRect(shape, feather + 1, image.width, image.height);
      if (!r) return null;
      const pixels = await blurred(image, r, sigma);
      return maskedLayer(pixels, image.channels, shapeMask(shape, r, feather), r);
    }),
  );
  return layers.filter((l) => l !== null);
};
