// Damaged images are refused, never half-rendered: damaged copies of a fixture in every accepted
// format fail at the API's structure check (422 corrupt-image) or in the worker's decode
// (corrupt_image), and no good photo is refused by either (all of ../shared/fixtures, faces/ and dev/).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { inspectImage } from '../../api/inspectImage.js';
import { HttpProblem } from '../../api/problem.js';
import { JobFailure } from '../../shared/errors.js';
import type { FaceDetector } from '../../worker/detectors/index.js';
import { processImage, type PipelineDeps } from '../../worker/pipeline.js';
import { damaged, encodings, truncate, type Variant } from '../helpers/damage.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { renderEmoji } from '../helpers/worker.js';

/** Decoding is what is under test: a detector that finds nothing, at once. */
const noFaces: FaceDetector = {
  name: 'none',
  backend: 'none',
  weights: { package: 'none', licence: 'none' },
  maxSide: 1024,
  detect: async () => [],
  liveTensors: () => 0,
};
const deps: PipelineDeps = { detector: noFaces, renderEmoji, maxPixels: 50_000_000 };
const opts = { emoji: 'poop', format: 'png' as const, minConfidence: 0.5 };

/** Where the bytes are refused: 'api' (422 corrupt-image), 'worker' (corrupt_image), or 'accepted'. */
async function verdict(bytes: Buffer): Promise<'api' | 'worker' | 'accepted'> {
  try {
    await inspectImage(bytes, { maxPixels: 50_000_000 });
  } catch (err) {
    assert.ok(err instanceof HttpProblem, String(err));
    assert.equal(err.status, 422, err.message);
    assert.equal(err.extensions.code, 'corrupt_image');
    return 'api';
  }
  try {
    await processImage(bytes, opts, deps);
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof JobFailure, String(err));
    assert.equal(err.code, 'corrupt_image', err.message);
    return 'worker';
  }
}

describe('damaged copies of every accepted format', () => {
  let good: Record<Variant, Buffer>;
  before(async () => {
    good = await encodings(readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg')));
  });

  test('the good copies pass', async () => {
    for (const [variant, bytes] of Object.entries(good))
      assert.equal(await verdict(bytes), 'accepted', variant);
  });

  test('truncated copies are refused; at the API for every format but TIFF', async () => {
    for (const [variant, bytes] of Object.entries(good) as [Variant, Buffer][]) {
      const where = await verdict(truncate(bytes));
      assert.notEqual(where, 'accepted', variant);
      if (!variant.startsWith('tiff')) assert.equal(where, 'api', variant);
    }
  });

  test('damaged compressed data is refused (CRC errors at the API, the rest by the decode)', async () => {
    const seen: Record<string, string> = {};
    for (const [variant, bytes] of Object.entries(good) as [Variant, Buffer][]) {
      seen[variant] = await verdict(damaged(variant, bytes));
    }
    for (const [variant, where] of Object.entries(seen)) assert.notEqual(where, 'accepted', variant);
    // PNG CRC errors in a critical chunk: the API sees them without decoding.
    const crc = Buffer.from(good.png);
    crc[crc.indexOf('IDAT', 0, 'latin1') + 40]! ^= 0x10;
    assert.equal(await verdict(crc), 'api');
    // A wrong CRC in an ancillary chunk is skipped, as browsers do: the image is fine.
    const withText = Buffer.concat([
      good.png.subarray(0, 33),
      Buffer.from('0000000574455874616263646500000000', 'hex'), // tEXt "abcde", CRC 0
      good.png.subarray(33),
    ]);
    assert.equal(await verdict(withText), 'accepted');
  });

  test('data after the end of the image (polyglots) is refused at the API', async () => {
    const zip = Buffer.from('504b0304140000000000', 'hex');
    for (const variant of ['jpeg', 'png', 'webp', 'gif', 'avif'] as const) {
      assert.equal(await verdict(Buffer.concat([good[variant], zip])), 'api', variant);
    }
  });
});

describe('no good photo is refused', () => {
  for (const dir of [fixturesDir, resolve(fixturesDir, '../dev')]) {
    test(`every photo in ${dir.split('/').slice(-2).join('/')} passes the API check and the decode`, async () => {
      const files = readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f));
      assert.ok(files.length > 10);
      for (const file of files) assert.equal(await verdict(readFileSync(join(dir, file))), 'accepted', file);
    });
  }
});
