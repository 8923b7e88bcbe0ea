// Whether an upload's container holds together, read from its bytes without decoding a pixel:
// the cheap part of "damaged images are refused" (422 at the API). What only a decode can see
// (corrupt JPEG scan data, broken AV1 or LZW streams) fails the job in the worker instead
// (worker/decodeStrictness.ts). Each check returns what is wrong, or undefined.
import { crc32 } from 'node:zlib';
import type { InputFormat } from '../shared/jobs.js';

export function structureProblem(format: InputFormat, bytes: Buffer): string | undefined {
  switch (format) {
    case 'jpeg':
      return jpegEnd(bytes);
    case 'png':
      return pngChunks(bytes);
    case 'gif':
      return bytes[bytes.length - 1] === 0x3b ? undefined : 'the image is truncated (no GIF trailer)';
    case 'webp':
      return bytes.length >= 12 && bytes.readUInt32LE(4) + 8 === bytes.length
        ? undefined
        : 'the image is truncated or has data after its end (RIFF size mismatch)';
    case 'avif':
    case 'heif':
      return isoBoxes(bytes);
    case 'tiff':
      return undefined; // offsets point anywhere in the file: the worker's decode checks it
  }
}

/** JPEG ends with EOI (FF D9), zero padding aside: anything else is cut short or has data appended. */
function jpegEnd(bytes: Buffer): string | undefined {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end >= 2 && bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9
    ? undefined
    : 'the image is truncated or has data after its end (no JPEG end marker)';
}

/**
 * PNG: chunks from the signature to IEND, each inside the file, IHDR first, IEND last (zero
 * padding aside), and the CRC of every critical chunk (IHDR, PLTE, IDAT, IEND) right. Browsers
 * refuse a critical chunk whose CRC is wrong and skip an ancillary one: ancillary CRCs are not
 * checked here either (the worker decodes those files).
 */
function pngChunks(bytes: Buffer): string | undefined {
  let pos = 8;
  let first = true;
  while (pos + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(pos);
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    const end = pos + 12 + length;
    if (length > 0x7fffffff || end > bytes.length)
      return `the image is truncated (PNG ${type} chunk cut short)`;
    if (first && type !== 'IHDR') return 'the PNG does not start with its IHDR chunk';
    first = false;
    const critical = (bytes[pos + 4]! & 0x20) === 0;
    if (critical && crc32(bytes.subarray(pos + 4, end - 4)) >>> 0 !== bytes.readUInt32BE(end - 4)) {
      return `the image is damaged (CRC error in the PNG ${type} chunk)`;
    }
    pos = end;
    if (type === 'IEND') {
      return bytes.subarray(pos).every((b) => b === 0) ? undefined : 'the PNG has data after its IEND chunk';
    }
  }
  return 'the image is truncated (no PNG IEND chunk)';
}

/** ISO BMFF (AVIF, HEIF): top-level boxes that tile the file exactly. */
function isoBoxes(bytes: Buffer): string | undefined {
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 8 > bytes.length) return 'the image is truncated (a box header is cut short)';
    let size = bytes.readUInt32BE(pos);
    if (size === 1) {
      if (pos + 16 > bytes.length) return 'the image is truncated (a box header is cut short)';
      size = Number(bytes.readBigUInt64BE(pos + 8));
    } else if (size === 0) {
      size = bytes.length - pos; // "to the end of the file"
    }
    if (size < 8) return 'the image is damaged (a box has an impossible size)';
    if (pos + size > bytes.length) {
      return `the image is truncated (its ${bytes.toString('latin1', pos + 4, pos + 8)} box is cut short)`;
    }
    pos += size;
  }
  return undefined;
}
