// The one interface every cover mode implements: faces + the photo + the job's options → layers
// (RGBA patches), which the pipeline pastes onto the decoded pixels and encodes in one libvips pass.
import type { Cover } from '../../shared/covers.js';
import type { FaceBox } from '../../shared/jobs.js';
import type { RawImage } from './pixels.js';

export interface RawEmoji {
  data: Buffer;
  width: number;
  height: number;
  channels: 4;
}

/** The emoji `name` as a `size` px square turned by `angle` degrees (shared/emojiRenderer.ts). */
export type RenderEmoji = (name: string, size: number, angle: number) => Promise<RawEmoji>;

export interface CoverContext {
  image: RawImage;
  renderEmoji: RenderEmoji;
  /** Seeds emoji=random: the job id, so every attempt of a job covers its faces the same way. */
  seed: string;
}

/**
 * A patch of raw, non-premultiplied RGBA pixels at (left, top), inside the image. The same shape as
 * sharp's raw composite input, so a test can also paste it with libvips.
 */
export interface Layer {
  input: Buffer;
  raw: { width: number; height: number; channels: 4 };
  left: number;
  top: number;
}

export type CoverFn<C extends Cover = Cover> = (
  faces: FaceBox[],
  cover: C,
  ctx: CoverContext,
) => Promise<Layer[]>;
