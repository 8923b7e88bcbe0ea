// The detection copy the worker's pipeline makes of a photo file: upright (EXIF applied), sRGB, at
// most 1024 px, packed RGB. Shared by the equivalence test and `npm run bench:onnx`.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { RgbImage } from '../../worker/detectors/index.js';

export async function detectionCopy(file: string, maxSide = 1024): Promise<RgbImage> {
  const { data, info } = await sharp(readFileSync(file))
    .rotate()
    .toColourspace('srgb')
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
