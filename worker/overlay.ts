// Where an emoji goes over a face, and pasting it there. Pure geometry first, so it is testable.
import sharp, { type OverlayOptions } from 'sharp';
import type { FaceBox } from '../shared/jobs.js';

/**
 * The emoji is a square centred on the face box, wider than the box: a circle inscribed in a square
 * of side 1.45 × max(w, h) contains the whole box (its diagonal is at most 1.414 × max(w, h)), so
 * round emoji hide every corner of the face, chin included. The 2021 app used the face width and
 * shifted the emoji up, which left chins showing.
 */
export const EMOJI_SCALE = 1.45;
/** The renderer's largest raster; a bigger face still gets an emoji, just capped in size. */
export const MAX_EMOJI_SIDE = 8192;

export interface Placement {
  /** Side of the rendered emoji square. */
  size: number;
  /** Where the visible part goes in the image. */
  left: number;
  top: number;
  /** The visible part of the emoji square (clipped at the image edges). */
  crop: { left: number; top: number; width: number; height: number };
}

export function emojiPlacement(face: FaceBox, imageWidth: number, imageHeight: number): Placement | null {
  const size = Math.min(
    MAX_EMOJI_SIDE,
    Math.max(1, Math.ceil(Math.max(face.width, face.height) * EMOJI_SCALE)),
  );
  const x0 = Math.round(face.x + face.width / 2 - size / 2);
  const y0 = Math.round(face.y + face.height / 2 - size / 2);
  const left = Math.max(0, x0);
  const top = Math.max(0, y0);
  const right = Math.min(imageWidth, x0 + size);
  const bottom = Math.min(imageHeight, y0 + size);
  if (right <= left || bottom <= top) return null;
  return {
    size,
    left,
    top,
    crop: { left: left - x0, top: top - y0, width: right - left, height: bottom - top },
  };
}

export interface RawEmoji {
  data: Buffer;
  width: number;
  height: number;
  channels: 4;
}

export type RenderEmoji = (name: string, size: number) => Promise<RawEmoji>;

/** sharp composite layers for every face, each emoji cropped to what lies inside the image. */
export async function emojiLayers(
  faces: FaceBox[],
  emoji: string,
  imageWidth: number,
  imageHeight: number,
  render: RenderEmoji,
): Promise<OverlayOptions[]> {
  const layers: OverlayOptions[] = [];
  for (const face of faces) {
    const p = emojiPlacement(face, imageWidth, imageHeight);
    if (!p) continue;
    const art = await render(emoji, p.size);
    const whole = p.crop.width === p.size && p.crop.height === p.size;
    const input = whole
      ? art.data
      : await sharp(art.data, { raw: { width: art.width, height: art.height, channels: 4 } })
          .extract(p.crop)
          .raw()
          .toBuffer();
    layers.push({
      input,
      raw: { width: p.crop.width, height: p.crop.height, channels: 4 },
      left: p.left,
      top: p.top,
    });
  }
  return layers;
}
