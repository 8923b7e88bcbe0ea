// How strict the worker's one decode is, per input format: a damaged file fails its job with
// corrupt_image instead of coming back as a partly garbage picture. libvips' levels, from lenient
// to strict: none, truncated, error, warning. Measured on damaged copies of the fixtures
// (test/worker/damaged.test.ts; README "Damaged images"):
// - JPEG: libjpeg reports corrupt entropy-coded data (bad Huffman codes, a scan that ends early)
//   only as warnings and goes on decoding garbage; "error" and "truncated" refuse none of it, so
//   JPEG fails on the first warning. Browsers render such files; we refuse them. No good photo of
//   the 139 in ../shared/fixtures (faces/ and dev/) raises a warning.
// - PNG, WebP, GIF, TIFF, AVIF, HEIF: "error". TIFF needs it (libtiff's strip decode errors pass
//   "truncated" and leave blank strips); PNG's CRC and zlib errors and the others' decode errors
//   fail there too, as browsers refuse those files. Warnings are not refused, as browsers do not.
import type { FailOnOptions } from 'sharp';

const isJpeg = (b: Buffer) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** libvips' failOn for these bytes (decided from their magic number, like the API's check). */
export const failOnFor = (input: Buffer): FailOnOptions => (isJpeg(input) ? 'warning' : 'error');
