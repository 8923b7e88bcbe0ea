// Damaged and hostile images, made in the test from a good photo (never committed): every accepted
// format encoded by sharp, then truncated, bit-flipped, overwritten, or with a header that claims
// far more pixels than it holds. Damage is seeded, so each case is the same bytes on every run.
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

export type Variant =
  | 'jpeg'
  | 'jpeg-progressive'
  | 'png'
  | 'webp'
  | 'webp-lossless'
  | 'gif'
  | 'tiff'
  | 'tiff-deflate'
  | 'avif'
  | 'heif';

/** Every accepted format (and the common variants of two), encoded from `source`. */
export async function encodings(source: Buffer): Promise<Record<Variant, Buffer>> {
  const img = () => sharp(source);
  const avif = await img().avif({ effort: 2 }).toBuffer();
  return {
    jpeg: await img().jpeg({ quality: 85 }).toBuffer(),
    'jpeg-progressive': await img().jpeg({ quality: 85, progressive: true }).toBuffer(),
    png: await img().png().toBuffer(),
    webp: await img().webp().toBuffer(),
    'webp-lossless': await img().webp({ lossless: true }).toBuffer(),
    gif: await img().gif().toBuffer(),
    tiff: await img().tiff({ compression: 'lzw' }).toBuffer(),
    'tiff-deflate': await img().tiff({ compression: 'deflate' }).toBuffer(),
    avif,
    // No HEVC encoder ships with sharp: an AV1-coded HEIF (brand mif1) stands for HEIF.
    heif: withBrand(avif, 'mif1'),
  };
}

const withBrand = (iso: Buffer, brand: string) => {
  const out = Buffer.from(iso);
  out.write(brand, 8, 'latin1');
  return out;
};

/** A deterministic PRNG (LCG), so damage is reproducible. */
function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

export const truncate = (b: Buffer, fraction = 0.6) =>
  Buffer.from(b.subarray(0, Math.floor(b.length * fraction)));

/** n bit flips in the middle 20–90 % of the file (the compressed data, past the headers). */
export function flipBits(b: Buffer, n: number, seed = 1): Buffer {
  const out = Buffer.from(b);
  const rnd = random(seed);
  for (let i = 0; i < n; i++) out[Math.floor(b.length * (0.2 + 0.7 * rnd()))]! ^= 1 << Math.floor(rnd() * 8);
  return out;
}

/** `length` random bytes written at `at` (a fraction of the file). */
export function overwrite(b: Buffer, length: number, at = 0.5, seed = 1): Buffer {
  const out = Buffer.from(b);
  const rnd = random(seed);
  const start = Math.floor(b.length * at);
  for (let i = 0; i < length && start + i < out.length; i++) out[start + i] = Math.floor(rnd() * 256);
  return out;
}

/**
 * Damage that a decoder can see, per variant, found by measuring over seeds and photos: 1 KB of
 * random bytes in JPEG scan data (libjpeg warns on 20 of 20 seeds; 256 bytes: 14 of 20), 256 in
 * GIF's LZW data, 64 bit flips in TIFF, AVIF and HEIF data (10 of 10), 32 bytes over VP8L's entropy
 * code header (20 of 20), and for lossy WebP a first partition longer than the file: VP8's DCT data
 * has no invalid states, so flips inside it decode to valid, wrong pixels (0 of 10 refused), which
 * no decoder and no browser can tell from a real picture.
 */
export function damaged(variant: Variant, good: Buffer): Buffer {
  switch (variant) {
    case 'jpeg':
    case 'jpeg-progressive':
      return overwrite(good, 1024);
    case 'gif':
      return overwrite(good, 256);
    case 'webp': {
      const out = Buffer.from(good);
      // Frame tag (after RIFF and VP8 chunk headers): first partition size 2^19 - 1, flags kept.
      out.writeUIntLE((good.readUIntLE(20, 3) & 0x1f) | (0x7ffff << 5), 20, 3);
      return out;
    }
    case 'webp-lossless': {
      const out = overwrite(good, 32, 0);
      good.copy(out, 0, 0, 26); // RIFF, VP8L chunk and bitstream headers intact
      return out;
    }
    case 'png':
      return pngWithCorruptIdat(good);
    case 'tiff':
    case 'tiff-deflate':
    case 'avif':
    case 'heif':
      return flipBits(good, 64);
  }
}

/** A PNG whose zlib data is damaged but whose CRCs are right (the API's CRC check cannot see it). */
export function pngWithCorruptIdat(good: Buffer): Buffer {
  const out = Buffer.from(good);
  let pos = 8;
  while (pos + 12 <= out.length) {
    const length = out.readUInt32BE(pos);
    if (out.toString('latin1', pos + 4, pos + 8) === 'IDAT') {
      const data = out.subarray(pos + 8, pos + 8 + length);
      for (let i = Math.floor(length / 3); i < Math.floor(length / 3) + 64; i++) data[i] = (i * 151) & 0xff;
      out.writeUInt32BE(crc32(out.subarray(pos + 4, pos + 8 + length)) >>> 0, pos + 8 + length);
      return out;
    }
    pos += 12 + length;
  }
  throw new Error('no IDAT chunk');
}

export function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A PNG header claiming width×height, with a valid IHDR CRC and an IEND (no pixel data). */
export function hugePng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Decompression bombs: a small file of each format whose header claims `side`×`side` pixels.
 * `good` are small encodings of every variant (see encodings()).
 */
export function bombs(good: Record<Variant, Buffer>, side: number): Record<string, Buffer> {
  const jpeg = Buffer.from(good.jpeg);
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  jpeg.writeUInt16BE(side, sof + 5);
  jpeg.writeUInt16BE(side, sof + 7);

  const gif = Buffer.from(good.gif);
  gif.writeUInt16LE(side, 6);
  gif.writeUInt16LE(side, 8);

  const webp = Buffer.from(good.webp); // VP8: 14-bit sides after the start code 9d 01 2a
  const start = webp.indexOf(Buffer.from([0x9d, 0x01, 0x2a]));
  webp.writeUInt16LE(Math.min(side, 0x3fff), start + 3);
  webp.writeUInt16LE(Math.min(side, 0x3fff), start + 5);

  const tiff = Buffer.from(good.tiff); // little-endian IFD0: ImageWidth (256), ImageLength (257)
  const ifd = tiff.readUInt32LE(4);
  for (let i = 0; i < tiff.readUInt16LE(ifd); i++) {
    const entry = ifd + 2 + i * 12;
    const tag = tiff.readUInt16LE(entry);
    if (tag === 256 || tag === 257) {
      tiff.writeUInt16LE(4, entry + 2); // LONG
      tiff.writeUInt32LE(side, entry + 8);
    }
  }

  const iso = (b: Buffer) => {
    const out = Buffer.from(b);
    const ispe = out.indexOf('ispe', 0, 'latin1');
    out.writeUInt32BE(side, ispe + 8);
    out.writeUInt32BE(side, ispe + 12);
    return out;
  };

  return {
    'jpeg bomb': jpeg,
    'png bomb': hugePng(side, side),
    'gif bomb': gif,
    'gif frame bomb (small screen, huge frame)': gifFrameBomb(64, Math.min(side, 0xffff)),
    'webp bomb': webp,
    'tiff bomb': tiff,
    'avif bomb': iso(good.avif),
    'heif bomb': iso(good.heif),
  };
}

/**
 * A GIF whose logical screen is screen×screen but whose one frame claims frame×frame: the header
 * a quick reader sees is small, the decoder's canvas is not.
 */
export function gifFrameBomb(screen: number, frame: number): Buffer {
  const le = (n: number) => [n & 0xff, n >> 8];
  return Buffer.from([
    ...Buffer.from('GIF89a', 'latin1'),
    ...le(screen),
    ...le(screen),
    0x80,
    0,
    0,
    ...[0, 0, 0, 255, 255, 255],
    0x2c,
    0,
    0,
    0,
    0,
    ...le(frame),
    ...le(frame),
    0,
    ...[2, 2, 0x4c, 0x01, 0],
    0x3b,
  ]);
}
