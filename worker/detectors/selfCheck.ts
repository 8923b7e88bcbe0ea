// A fixed synthetic picture every backend can be checked on at start: a bright oval with two dark
// spots on a gradient, which gives a face detector something to score.
import type { RgbImage } from './types.js';

export function selfCheckImage(): RgbImage {
  const width = 96;
  const height = 128;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        const dx = x - 48;
        const dy = y - 56;
        const oval = (dx * dx) / 900 + (dy * dy) / 1600 < 1;
        const eye = (Math.abs(dx) - 12) ** 2 + (dy + 10) ** 2 < 25;
        data[(y * width + x) * 3 + c] = eye ? 30 : oval ? 200 - c * 30 : (x * 2 + y + c * 60) % 256;
      }
  return { data, width, height };
}
