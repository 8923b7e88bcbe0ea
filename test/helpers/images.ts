// Input formats made in the test from a fixture photo with sharp (no photo but astronaut.png is ever
// committed). sharp writes AVIF but not HEIC (its libvips has no HEVC codec), so the two HEIF
// variants are the AVIF file re-labelled: brand `mif1` (plain HEIF, AV1-coded: it decodes), and
// an HEVC-declared one (item type `hvc1` with an `hvcC` box: what an iPhone photo declares, which
// this libvips cannot decode).
import sharp from 'sharp';

export type MadeFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heif';

export async function encodeAs(source: Buffer | string, format: MadeFormat): Promise<Buffer> {
  const img = sharp(source);
  switch (format) {
    case 'jpeg':
      return img.jpeg().toBuffer();
    case 'png':
      return img.png().toBuffer();
    case 'webp':
      return img.webp().toBuffer();
    case 'gif':
      return img.gif().toBuffer();
    case 'tiff':
      return img.tiff({ compression: 'lzw' }).toBuffer();
    case 'avif':
      return img.avif().toBuffer();
    case 'heif':
      return relabel(await img.avif().toBuffer(), 'mif1');
  }
}

/** The ISOBMFF box of this type (the first one, searched as bytes): its offset. */
function boxAt(b: Buffer, type: string): number {
  const i = b.indexOf(type, 0, 'latin1');
  if (i < 4) throw new Error(`no ${type} box`);
  return i - 4;
}

/** An AVIF file's brands replaced: `mif1` makes it plain HEIF, `heic` what phones write. */
function relabel(avif: Buffer, brand: 'mif1' | 'heic'): Buffer {
  const out = Buffer.from(avif);
  const ftyp = boxAt(out, 'ftyp');
  const end = ftyp + out.readUInt32BE(ftyp);
  for (let i = ftyp + 8; i + 4 <= end; i += 4) {
    if (out.toString('latin1', i, i + 4) === 'avif') out.write(brand, i, 'latin1');
  }
  return out;
}

/**
 * A HEIC whose image says it is HEVC-coded: the AVIF's `av01` item becomes `hvc1` and its `av1C`
 * property a well-formed (empty) `hvcC` record, the enclosing boxes and the data offset adjusted.
 */
export async function hevcHeic(source: Buffer | string): Promise<Buffer> {
  const b = relabel(await sharp(source).avif().toBuffer(), 'heic');
  const av1c = boxAt(b, 'av1C');
  const oldSize = b.readUInt32BE(av1c);
  // HEVCDecoderConfigurationRecord (ISO/IEC 14496-15): version 1, Main profile, level 3, 4:2:0,
  // 8 bit, no parameter-set arrays.
  const record = [
    1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 90, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0,
  ];
  const hvcc = Buffer.alloc(8 + record.length);
  hvcc.writeUInt32BE(hvcc.length, 0);
  hvcc.write('hvcC', 4, 'latin1');
  Buffer.from(record).copy(hvcc, 8);
  const delta = hvcc.length - oldSize;
  const out = Buffer.concat([b.subarray(0, av1c), hvcc, b.subarray(av1c + oldSize)]);
  for (const box of ['meta', 'iprp', 'ipco']) {
    const at = boxAt(out, box);
    out.writeUInt32BE(out.readUInt32BE(at) + delta, at);
  }
  // iloc v0 as libheif writes it (4-byte offsets and lengths, a 4-byte base offset, one item):
  // the item's data moved by delta.
  const iloc = boxAt(out, 'iloc');
  if (
    out[iloc + 8] !== 0 ||
    out[iloc + 12] !== 0x44 ||
    out[iloc + 13] !== 0x40 ||
    out.readUInt16BE(iloc + 14) !== 1
  )
    throw new Error('unexpected iloc layout');
  const baseOffset = iloc + 8 + 4 + 2 + 2 + 2 + 2;
  out.writeUInt32BE(out.readUInt32BE(baseOffset) + delta, baseOffset);
  out.write('hvc1', out.indexOf('av01', 0, 'latin1'), 'latin1');
  return out;
}
