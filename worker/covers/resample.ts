// Shrinking a region of the photo into block means, and growing a small image back, in plain
// loops over the bytes: for the sizes covers need this is several times cheaper than a libvips
// resize pipeline per face (measured with bench/covers.ts), and exact where it must be.
import type { Rect } from './geometry.js';
import type { RawImage } from './pixels.js';

/**
 * The mean of every block of `r` on a grid of `block` px anchored at (gx, gy), one pixel per block
 * (blocks cut by `r` average what lies inside it). With an alpha channel the colour is
 * alpha-weighted, so transparent pixels do not darken a block.
 */
export function boxShrink(image: RawImage, r: Rect, block: number, gx = r.left, gy = r.top): RawImage {
  const { data, width, channels: ch } = image;
  const alpha = ch === 4 || ch === 2 ? ch - 1 : -1;
  const bx0 = Math.floor((r.left - gx) / block);
  const by0 = Math.floor((r.top - gy) / block);
  const cols = Math.ceil((r.left + r.width - gx) / block) - bx0;
  const rows = Math.ceil((r.top + r.height - gy) / block) - by0;
  const out = Buffer.allocUnsafe(cols * rows * ch);
  const sums = new Float64Array(cols * ch);
  const x0s = new Int32Array(cols);
  const x1s = new Int32Array(cols);
  for (let c = 0; c < cols; c++) {
    x0s[c] = Math.max(r.left, gx + (bx0 + c) * block);
    x1s[c] = Math.min(r.left + r.width, gx + (bx0 + c + 1) * block);
  }
  for (let row = 0; row < rows; row++) {
    const y0 = Math.max(r.top, gy + (by0 + row) * block);
    const y1 = Math.min(r.top + r.height, gy + (by0 + row + 1) * block);
    sums.fill(0);
    for (let y = y0; y < y1; y++) {
      for (let c = 0; c < cols; c++) {
        const s = c * ch;
        const end = (y * width + x1s[c]!) * ch;
        if (ch === 3) {
          let r0 = 0;
          let g0 = 0;
          let b0 = 0;
          for (let i = (y * width + x0s[c]!) * 3; i < end; i += 3) {
            r0 += data[i]!;
            g0 += data[i + 1]!;
            b0 += data[i + 2]!;
          }
          sums[s] = sums[s]! + r0;
          sums[s + 1] = sums[s + 1]! + g0;
          sums[s + 2] = sums[s + 2]! + b0;
        } else {
          for (let i = (y * width + x0s[c]!) * ch; i < end; i += ch) {
            const a = alpha < 0 ? 1 : data[i + alpha]!;
            for (let k = 0; k < ch; k++) {
              sums[s + k] = sums[s + k]! + (k === alpha || alpha < 0 ? data[i + k]! : data[i + k]! * a);
            }
          }
        }
      }
    }
    for (let c = 0; c < cols; c++) {
      const s = c * ch;
      const n = (x1s[c]! - x0s[c]!) * (y1 - y0);
      const weight = alpha < 0 ? n : sums[s + alpha]!;
      const o = (row * cols + c) * ch;
      for (let k = 0; k < ch; k++) {
        const divisor = k === alpha || alpha < 0 ? n : weight;
        out[o + k] = divisor > 0 ? Math.round(sums[s + k]! / divisor) : 0;
      }
    }
  }
  return { data: out, width: cols, height: rows, channels: ch };
}

/** `r` filled block by block from boxShrink's output for the same grid: the mosaic itself. */
export function expandBlocks(small: RawImage, r: Rect, block: number, gx = r.left, gy = r.top): Buffer {
  const ch = small.channels;
  const bx0 = Math.floor((r.left - gx) / block);
  const by0 = Math.floor((r.top - gy) / block);
  const rowBytes = r.width * ch;
  const out = Buffer.allocUnsafe(r.height * rowBytes);
  let last = -1;
  for (let y = r.top; y < r.top + r.height; y++) {
    const row = Math.floor((y - gy) / block) - by0;
    const at = (y - r.top) * rowBytes;
    if (row === last) {
      out.copy(out, at, at - rowBytes, at);
      continue;
    }
    for (let x = r.left; x < r.left + r.width; x++) {
      const from = (row * small.width + Math.floor((x - gx) / block) - bx0) * ch;
      small.data.copy(out, at + (x - r.left) * ch, from, from + ch);
    }
    last = row;
  }
  return out;
}

/**
 * `r` grown back from `small` (whose pixel i, j is centred at (ox + (i + ½)·k, oy + (j + ½)·k)) by
 * bilinear interpolation — rows first, then between rows — as RGBA: the colour from `small` (3 or
 * 4 channels), the alpha from `mask` (one byte per small pixel) times `small`'s own alpha. Bilinear
 * weights are convex, so wherever the four nearest samples are 255 the result is 255.
 */
export function enlargeBilinear(
  small: RawImage,
  mask: Buffer,
  k: number,
  ox: number,
  oy: number,
  r: Rect,
): Buffer {
  const { data, width: sw, height: sh, channels: ch } = small;
  const own = ch === 4;
  const w = r.width;
  // Per output column: the two samples and the weight of the second.
  const i0s = new Int32Array(w);
  const i1s = new Int32Array(w);
  const fxs = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const u = Math.min(sw - 1, Math.max(0, (r.left + x + 0.5 - ox) / k - 0.5));
    const i0 = Math.floor(u);
    i0s[x] = i0;
    i1s[x] = Math.min(sw - 1, i0 + 1);
    fxs[x] = u - i0;
  }
  // A sample row interpolated across to the output's columns: r, g, b, alpha, in 1/256ths.
  const across = (j: number, into: Int32Array) => {
    const base = j * sw;
    for (let x = 0; x < w; x++) {
      const a = (base + i0s[x]!) * ch;
      const b = (base + i1s[x]!) * ch;
      const f = fxs[x]!;
      const o = x * 4;
      into[o] = (data[a]! + (data[b]! - data[a]!) * f) * 256;
      into[o + 1] = (data[a + 1]! + (data[b + 1]! - data[a + 1]!) * f) * 256;
      into[o + 2] = (data[a + 2]! + (data[b + 2]! - data[a + 2]!) * f) * 256;
      const ma = mask[base + i0s[x]!]!;
      const mb = mask[base + i1s[x]!]!;
      let m = ma + (mb - ma) * f;
      if (own) m = (m * (data[a + 3]! + (data[b + 3]! - data[a + 3]!) * f)) / 255;
      into[o + 3] = m * 256;
    }
  };
  const out = Buffer.allocUnsafe(w * r.height * 4);
  let upper = new Int32Array(w * 4);
  let lower = new Int32Array(w * 4);
  let have0 = -1;
  let have1 = -1;
  for (let y = 0; y < r.height; y++) {
    const v = Math.min(sh - 1, Math.max(0, (r.top + y + 0.5 - oy) / k - 0.5));
    const j0 = Math.floor(v);
    const j1 = Math.min(sh - 1, j0 + 1);
    // Fixed point: weights in 1/256ths, values in 1/256ths, rounded on the way out.
    const g = Math.round((v - j0) * 256);
    const h = 256 - g;
    if (j0 !== have0) {
      if (j0 === have1) [upper, lower, have0] = [lower, upper, have1];
      else {
        across(j0, upper);
        have0 = j0;
      }
      have1 = -1;
    }
    if (j1 !== have1) {
      across(j1, lower);
      have1 = j1;
    }
    const o = y * w * 4;
    const n = w * 4;
    for (let p = 0; p < n; p++) out[o + p] = (upper[p]! * h + lower[p]! * g + 32768) >> 16;
  }
  return out;
}
