// Pixel helpers the covers share: the decoded photo, a region of it through libvips, a shape's alpha
// mask, and turning a region plus a mask into a composite layer.
import sharp, { type OverlayOptions } from 'sharp';
import type { Rect, Shape } from './geometry.js';

/** The decoded photo: raw sRGB(A) pixels, upright (EXIF orientation applied). */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** A region of the photo as raw pixels (libvips reads only that region of the buffer). */
export function region(image: RawImage, r: Rect) {
  const { width, height, channels } = image;
  return sharp(image.data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } }).extract(r);
}

/** `inner` (inside `outer`, both in image pixels) copied out of a raw buffer laid out as `outer`. */
export function crop(data: Buffer, outer: Rect, inner: Rect, channels: number): Buffer {
  if (outer.left === inner.left && outer.top === inner.top && outer.width === inner.width) {
    return data.subarray(0, inner.width * inner.height * channels);
  }
  const out = Buffer.allocUnsafe(inner.width * inner.height * channels);
  const row = inner.width * channels;
  for (let y = 0; y < inner.height; y++) {
    const from = ((inner.top - outer.top + y) * outer.width + (inner.left - outer.left)) * channels;
    data.copy(out, y * row, from, from + row);
  }
  return out;
}

/**
 * Signed distance in pixels from (x, y) to the shape's edge, negative inside. Exact for rectangles;
 * for ellipses the first-order estimate (d − 1) / |∇d| of the normalised radius d, exact on the edge
 * and close to it, which is where masks use it.
 */
export function signedDistance(s: Shape, x: number, y: number): number {
  const dx = Math.abs(x - s.cx);
  const dy = Math.abs(y - s.cy);
  if (s.kind === 'box') {
    const ox = dx - s.rx;
    const oy = dy - s.ry;
    return ox > 0 || oy > 0 ? Math.hypot(Math.max(ox, 0), Math.max(oy, 0)) : Math.max(ox, oy);
  }
  const u = dx / s.rx;
  const v = dy / s.ry;
  const d = Math.hypot(u, v);
  if (d === 0) return -Math.min(s.rx, s.ry);
  const g = Math.hypot(u / s.rx, v / s.ry) / d;
  return (d - 1) / g;
}

/**
 * One alpha byte per pixel of `r`: 255 wherever the pixel's centre lies in the shape, so the whole
 * shape is covered at full strength; outside, falling to 0 over `feather` px (smoothstep), or over
 * one pixel (anti-aliasing) when feather ≤ 1.
 */
export function shapeMask(s: Shape, r: Rect, feather: number): Buffer {
  const f = Math.max(1, feather);
  const mask = Buffer.alloc(r.width * r.height);
  for (let j = 0; j < r.height; j++) {
    const y = r.top + j + 0.5;
    for (let i = 0; i < r.width; i++) {
      const d = signedDistance(s, r.left + i + 0.5, y);
      if (d <= 0) mask[j * r.width + i] = 255;
      else if (d < f) {
        const t = 1 - d / f;
        mask[j * r.width + i] = Math.round(255 * (f === 1 ? t : t * t * (3 - 2 * t)));
      }
    }
  }
  return mask;
}

/**
 * A composite layer from a region's new pixels (rgb or rgba, laid out as `r`) and a mask: the
 * mask is the layer's alpha, times the pixels' own alpha when they have one (a transparent part of
 * the photo stays transparent).
 */
export function maskedLayer(pixels: Buffer, channels: number, mask: Buffer, r: Rect): OverlayOptions {
  const n = r.width * r.height;
  const out = Buffer.allocUnsafe(n * 4);
  for (let p = 0; p < n; p++) {
    const i = p * channels;
    const o = p * 4;
    if (channels >= 3) {
      out[o] = pixels[i]!;
      out[o + 1] = pixels[i + 1]!;
      out[o + 2] = pixels[i + 2]!;
    } else {
      out[o] = out[o + 1] = out[o + 2] = pixels[i]!;
    }
    const own = channels === 4 || channels === 2 ? pixels[i + channels - 1]! : 255;
    out[o + 3] = own === 255 ? mask[p]! : Math.round((mask[p]! * own) / 255);
  }
  return { input: out, raw: { width: r.width, height: r.height, channels: 4 }, left: r.left, top: r.top };
}
