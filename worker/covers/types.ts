// The one interface every cover mode implements: faces + the photo + the job's options → sharp
// composite layers, which the pipeline pastes and encodes in one libvips pass.
import type { OverlayOptions } from 'sharp';
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

export type CoverFn<C extends Cover = Cover> = (
  faces: FaceBox[],
  cover: C,
  ctx: CoverContext,
) => Promise<OverlayOptions[]>;
