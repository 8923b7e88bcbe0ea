// Synthetic faces for the cover tests: boxes with five landmarks placed as on a frontal face and
// turned by a chosen roll (until a detector that finds landmarks lands, the fixtures have none);
// and what a cover leaves over a box.
import sharp from 'sharp';
import type { FaceBox, Landmarks, Point } from '../../shared/jobs.js';
import type { Layer } from '../../worker/covers/index.js';

/** Landmarks of an upright face, relative to the box centre, in units of the box's width/height. */
const TEMPLATE: Record<keyof Landmarks, Point> = {
  left_eye: [-0.2, -0.12],
  right_eye: [0.2, -0.12],
  nose: [0, 0.06],
  mouth_left: [-0.15, 0.25],
  mouth_right: [0.15, 0.25],
};

/** A face box centred at (cx, cy) whose landmarks are turned by `roll` degrees (clockwise as seen). */
export function tiltedFace(cx: number, cy: number, width: number, height: number, roll: number, score = 0.9) {
  const a = (roll * Math.PI) / 180;
  const turn = ([u, v]: Point): Point => {
    const x = u * width;
    const y = v * height;
    return [cx + x * Math.cos(a) - y * Math.sin(a), cy + x * Math.sin(a) + y * Math.cos(a)];
  };
  const landmarks = Object.fromEntries(
    Object.entries(TEMPLATE).map(([k, p]) => [k, turn(p)]),
  ) as unknown as Landmarks;
  return { x: cx - width / 2, y: cy - height / 2, width, height, score, landmarks } satisfies FaceBox;
}

export const box = (x: number, y: number, width: number, height: number, score = 0.9): FaceBox => ({
  x,
  y,
  width,
  height,
  score,
});

/** The pixels [x, y] whose whole area lies in the box. */
export function boxPixels(f: FaceBox): [number, number][] {
  const out: [number, number][] = [];
  for (let y = Math.ceil(f.y); y < Math.floor(f.y + f.height); y++) {
    for (let x = Math.ceil(f.x); x < Math.floor(f.x + f.width); x++) out.push([x, y]);
  }
  return out;
}

/** The alpha the layers lay over each pixel (pasted by libvips on a transparent canvas), one byte a pixel. */
export async function coverage(width: number, height: number, layers: Layer[]): Promise<Buffer> {
  const { data } = await sharp({
    create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
  })
    .composite(layers)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const alpha = Buffer.alloc(width * height);
  for (let i = 0; i < alpha.length; i++) alpha[i] = data[i * 4 + 3]!;
  return alpha;
}
