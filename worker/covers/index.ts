// cover(faces, options): the one place that reads the job's mode. A mode is one file here and one
// line in COVERS; the pipeline pastes whatever layers it returns (paste) and encodes once.
import { resolveCover, type Cover, type CoverMode } from '../../shared/covers.js';
import type { FaceBox, JobOptions } from '../../shared/jobs.js';
import { blurCover } from './blur.js';
import { emojiCover } from './emoji.js';
import { outlineCover } from './outline.js';
import { pixelateCover } from './pixelate.js';
import { solidCover } from './solid.js';
import type { CoverContext, CoverFn, Layer } from './types.js';

export type { CoverContext, Layer, RawEmoji, RenderEmoji } from './types.js';
export { paste } from './pixels.js';
export type { RawImage } from './pixels.js';

const COVERS: { [M in CoverMode]: CoverFn<Extract<Cover, { mode: M }>> } = {
  emoji: emojiCover,
  blur: blurCover,
  pixelate: pixelateCover,
  solid: solidCover,
  outline: outlineCover,
};

/** The composite layers that cover `faces` as the job asks (defaults filled in by resolveCover). */
export function coverLayers(faces: FaceBox[], options: JobOptions, ctx: CoverContext): Promise<Layer[]> {
  const cover = resolveCover(options);
  if (faces.length === 0) return Promise.resolve([]);
  return (COVERS[cover.mode] as CoverFn)(faces, cover, ctx);
}
