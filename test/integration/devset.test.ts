// A regression guard on the photos that matter (../shared/fixtures/dev, 125 news and crowd photos,
// 521 faces ≥ 20 px): the default detector, through the worker's own path, scored by
// ../shared/tools/evaluate.mjs (--min-size 20, IoU 0.5) at the default min_confidence, upright and
// turned by 90°, 180° and 270°. The floors are what this test measured on 2026-12-01 (docs/detection.md),
// less 0.003 (about one face) so that a different CPU's rounding cannot flip it; a change that
// loses faces fails here. The benchmark (`npm run bench -- --only=accuracy`) reports the same
// figures with every other configuration.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadConfig } from '../../shared/config.js';
import type { FaceDetector } from '../../worker/detectors/index.js';
import type { Turn } from '../../worker/detectors/views.js';
import { loadDevSet, runDevSet, scoreDevSet, type DevScore } from '../helpers/devset.js';
import { sharedDetector } from '../helpers/worker.js';

/** Measured upright: recall ≥ 32 px 0.931, AP 0.928, precision 0.932 (issue targets 0.92 / 0.90 / 0.92). */
const UPRIGHT = { recallLarge: 0.928, ap: 0.925, precision: 0.92 };
/** Turned photos must keep at least 0.85 of the upright figures (measured: the same as upright). */
const TURNED_SHARE = 0.85;

describe('the default detector on the development set', () => {
  const photos = loadDevSet();
  const threshold = loadConfig({}).MIN_CONFIDENCE;
  let detector: FaceDetector;
  const scores = new Map<Turn, DevScore>();
  before(async () => {
    detector = await sharedDetector();
  });

  const measure = async (turn: Turn) => {
    const run = await runDevSet(detector, photos, turn);
    const score = scoreDevSet(photos, run.predictions, turn, threshold);
    console.log(`# dev set turned ${turn}°: ${JSON.stringify(score)}`);
    scores.set(turn, score);
    return score;
  };

  it('finds the faces of upright photos', async () => {
    assert.equal(photos.length, 125);
    const s = await measure(0);
    assert.ok(
      s.recallLarge >= UPRIGHT.recallLarge,
      `recall ≥ 32 px ${s.recallLarge} < ${UPRIGHT.recallLarge}`,
    );
    assert.ok(s.ap >= UPRIGHT.ap, `AP ${s.ap} < ${UPRIGHT.ap}`);
    assert.ok(s.precision >= UPRIGHT.precision, `precision ${s.precision} < ${UPRIGHT.precision}`);
  });

  for (const turn of [90, 180, 270] as const) {
    it(`finds them in the same photos turned by ${turn}° (no EXIF)`, async () => {
      const s = await measure(turn);
      const upright = scores.get(0) ?? (await measure(0));
      assert.ok(
        s.recallLarge >= TURNED_SHARE * upright.recallLarge,
        `recall ≥ 32 px ${s.recallLarge} < ${TURNED_SHARE} × ${upright.recallLarge}`,
      );
      assert.ok(s.ap >= TURNED_SHARE * upright.ap, `AP ${s.ap} < ${TURNED_SHARE} × ${upright.ap}`);
    });
  }
});
