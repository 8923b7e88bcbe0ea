// What a result must not carry, in every cover mode and output format: EXIF (GPS above all), XMP,
// IPTC and comments from the upload; and what it must keep: the colours as seen (the input's ICC
// profile applied) and the orientation the photo is displayed in.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { COVER_MODES } from '../../shared/covers.js';
import { OUTPUT_FORMATS } from '../../shared/jobs.js';
import type { FaceDetector } from '../../worker/detectors/index.js';
import { processImage, type PipelineDeps } from '../../worker/pipeline.js';
import { renderEmoji } from '../helpers/worker.js';

/** A detector that finds one face in the middle of whatever it is shown. */
const oneFace: FaceDetector = {
  name: 'one-face',
  backend: 'none',
  weights: { package: 'none', licence: 'none' },
  maxSide: 1024,
  liveTensors: () => 0,
  detect: async (img) => [
    {
      x: img.width * 0.4,
      y: img.height * 0.4,
      width: img.width * 0.2,
      height: img.height * 0.2,
      score: 0.99,
    },
  ],
};
const deps: PipelineDeps = { detector: oneFace, renderEmoji };

const SECRETS = ['12 Secret Street', 'Jane Doe', 'secret place', 'Photographer X'];

/** A JPEG segment (marker, then length including itself). */
function segment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/** IPTC in a Photoshop APP13 segment: one record, 2:80 By-line (the author). */
function iptcSegment(byline: string): Buffer {
  const record = Buffer.concat([Buffer.from([0x1c, 2, 80, 0, byline.length]), Buffer.from(byline, 'latin1')]);
  const resource = Buffer.concat([
    Buffer.from('8BIM'),
    Buffer.from([0x04, 0x04, 0, 0]),
    Buffer.alloc(4),
    record,
  ]);
  resource.writeUInt32BE(record.length, 8);
  return segment(
    0xed,
    Buffer.concat([Buffer.from('Photoshop 3.0\0', 'latin1'), resource, Buffer.alloc(record.length % 2)]),
  );
}

/**
 * A 300 × 200 JPEG stored sideways (EXIF orientation 6: displayed 200 × 300) with GPS position,
 * camera-owner EXIF, XMP, IPTC and a comment.
 */
async function taggedJpeg(): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#6688aa' } })
    .withExif({
      IFD0: { Artist: SECRETS[3]!, ImageDescription: SECRETS[2]! },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '51/1 30/1 1234/100',
        GPSLongitudeRef: 'W',
        GPSLongitude: '0/1 7/1 39/1',
      },
    })
    .withXmp(
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
        `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>${SECRETS[1]}</dc:creator>` +
        '</rdf:Description></rdf:RDF></x:xmpmeta>',
    )
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toBuffer();
  const comment = segment(0xfe, Buffer.from(`taken at ${SECRETS[0]}`));
  return Buffer.concat([jpeg.subarray(0, 2), comment, iptcSegment(SECRETS[1]!), jpeg.subarray(2)]);
}

/** A PNG with a tEXt comment chunk. */
async function commentedPng(): Promise<Buffer> {
  const png = await sharp({ create: { width: 120, height: 90, channels: 3, background: '#aa8866' } })
    .png()
    .toBuffer();
  const data = Buffer.concat([Buffer.from('Comment\0', 'latin1'), Buffer.from(`at ${SECRETS[0]}`, 'latin1')]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from('tEXt'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  // After the signature (8 bytes) and IHDR (25 bytes).
  return Buffer.concat([png.subarray(0, 33), len, body, crc, png.subarray(33)]);
}

describe('metadata and colour', () => {
  it('the test inputs really carry what must be stripped', async () => {
    const m = await sharp(await taggedJpeg()).metadata();
    assert.equal(m.orientation, 6);
    // The GPS IFD pointer (tag 0x8825, little-endian in libexif's output).
    assert.ok(m.exif?.includes(Buffer.from([0x25, 0x88])), 'GPS IFD');
    assert.ok(m.xmp && m.iptc, 'XMP and IPTC');
    assert.ok((await taggedJpeg()).includes(SECRETS[0]!), 'comment');
    const p = await sharp(await commentedPng()).metadata();
    assert.ok(
      p.comments?.some((c) => c.text.includes(SECRETS[0]!)),
      'PNG comment',
    );
  });

  it('strips EXIF (GPS included), XMP, IPTC and comments, and applies the orientation, in every mode and format', async () => {
    for (const [input, displayed] of [
      [await taggedJpeg(), [200, 300]],
      [await commentedPng(), [120, 90]],
    ] as const) {
      for (const mode of COVER_MODES) {
        for (const format of OUTPUT_FORMATS) {
          const out = await processImage(input, { mode, format, minConfidence: 0.5 }, deps);
          const m = await sharp(out.output).metadata();
          const what = `${mode} → ${format}`;
          assert.equal(m.format, format, what);
          assert.deepEqual([m.width, m.height], displayed, `${what}: displayed size`);
          for (const field of ['exif', 'xmp', 'iptc', 'comments', 'orientation'] as const) {
            assert.equal(m[field], undefined, `${what}: ${field}`);
          }
          for (const secret of SECRETS)
            assert.ok(!out.output.includes(secret), `${what}: "${secret}" in the bytes`);
        }
      }
    }
  });

  it('applies the input colour profile: a Display P3 photo comes back in sRGB, untagged', async () => {
    // Pure sRGB red, stored as P3 numbers (≈ 234, 51, 35) with the P3 profile.
    const red = await sharp({
      create: { width: 80, height: 80, channels: 3, background: { r: 255, g: 0, b: 0 } },
    })
      .withIccProfile('p3')
      .png()
      .toBuffer();
    const stored = await sharp(red, { ignoreIcc: true }).raw().toBuffer();
    assert.ok(stored[0]! < 245 && stored[1]! > 40, `stored as P3 numbers: ${[...stored.subarray(0, 3)]}`);
    for (const mode of COVER_MODES) {
      const out = await processImage(red, { mode, format: 'png', minConfidence: 0.5 }, deps);
      assert.equal((await sharp(out.output).metadata()).icc, undefined, mode);
      // A corner, away from the face in the middle.
      const px = [...(await sharp(out.output).raw().toBuffer()).subarray(0, 3)];
      assert.ok(px[0]! >= 250 && px[1]! <= 5 && px[2]! <= 8, `${mode}: corner ${px} is not sRGB red`);
    }
  });
});
