// Real faces, really tilted: the public-domain astronaut portrait turned by ±15° and ±30°, through
// the pipeline with the default detector. RetinaFace's landmarks must follow the tilt, so the emoji
// turns with the face (covers.test.ts checks, in pixels, that an emoji turns by the eye line it is
// given); and the turned emoji still hides the whole face box.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { coverLayers } from '../../worker/covers/index.js';
import { faceRoll } from '../../worker/covers/geometry.js';
import type { FaceDetector } from '../../worker/detectors/index.js';
import { processImage } from '../../worker/pipeline.js';
import { boxPixels, coverage } from '../helpers/faces.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

/** How far the eye line may stray from the photo's tilt: the astronaut's own head is not quite level. */
const TOLERANCE = 6;

describe('emoji on tilted faces (real landmarks)', () => {
  let detector: FaceDetector;
  const photo = readFileSync(join(fixturesDir, 'astronaut.png'));
  before(async () => {
    detector = await sharedDetector();
  });

  it('finds the upright roll first, to measure the others against', async () => {
    const out = await processImage(photo, { format: 'png', minConfidence: 0.3 }, { detector, renderEmoji });
    assert.equal(out.faces.length, 1);
    const roll = faceRoll(out.faces[0]!);
    assert.equal(roll.from, 'landmarks');
    assert.ok(Math.abs(roll.angle) <= TOLERANCE, `upright roll ${roll.angle}°`);
  });

  for (const tilt of [-30, -15, 15, 30]) {
    it(`turns the emoji with a face tilted ${tilt}°, and hides its box`, async () => {
      // sharp turns clockwise; in image coordinates (y down) a clockwise turn is a positive angle.
      const turned = await sharp(photo).rotate(tilt, { background: '#808080' }).png().toBuffer();
      const out = await processImage(
        turned,
        { format: 'png', minConfidence: 0.3 },
        { detector, renderEmoji },
      );
      assert.equal(out.faces.length, 1, `faces: ${JSON.stringify(out.faces)}`);
      const face = out.faces[0]!;
      const upright = await processImage(
        photo,
        { format: 'png', minConfidence: 0.3 },
        { detector, renderEmoji },
      );
      const expected = faceRoll(upright.faces[0]!).angle + tilt;
      const roll = faceRoll(face);
      assert.equal(roll.from, 'landmarks', JSON.stringify(roll));
      assert.ok(
        Math.abs(roll.angle - expected) <= TOLERANCE,
        `eye line at ${roll.angle}°, photo turned to ${expected}°`,
      );
      // The emoji, turned by that roll, lies opaque over every pixel of the box.
      const { data, info } = await sharp(turned).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const image = { data, width: info.width, height: info.height, channels: 3 as const };
      const layers = await coverLayers(
        [face],
        { format: 'png', minConfidence: 0.3 },
        { image, renderEmoji, seed: '' },
      );
      const alpha = await coverage(info.width, info.height, layers);
      let holes = 0;
      for (const [x, y] of boxPixels(face)) if (alpha[y * info.width + x]! < 255) holes++;
      assert.equal(holes, 0, `${holes} pixels of the box show`);
    });
  }
});
