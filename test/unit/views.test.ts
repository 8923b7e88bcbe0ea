// The geometry under every view and score: turning pixels and mapping faces back, non-maximum
// suppression, and the calibration tables' interpolation. No model.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calibrate } from '../../worker/detectors/calibration.js';
import { nms } from '../../worker/detectors/retinaface.js';
import type { Detection } from '../../worker/detectors/types.js';
import { fromTurned, fromTurnedDetection, turnPixels, type Turn } from '../../worker/detectors/views.js';
import { turnBox } from '../helpers/devset.js';

const TURNS: Turn[] = [0, 90, 180, 270];

/** A 5 × 3 picture whose every pixel is distinct: (x, y) → [x, y, 7]. */
function labelled(width = 5, height = 3) {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, 7], (y * width + x) * 3);
  return { data, width, height };
}
const pixel = (img: { data: Buffer; width: number }, x: number, y: number) => [
  ...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];

describe('turning a picture', () => {
  it('turns clockwise, as sharp.rotate does', () => {
    const img = labelled();
    const t90 = turnPixels(img, 90);
    assert.deepEqual([t90.width, t90.height], [3, 5]);
    // Clockwise: the top-left pixel goes to the top-right.
    assert.deepEqual(pixel(t90, 2, 0), [0, 0, 7]);
    assert.deepEqual(pixel(turnPixels(img, 180), 4, 2), [0, 0, 7]);
    assert.deepEqual(pixel(turnPixels(img, 270), 0, 4), [0, 0, 7]);
    assert.equal(turnPixels(img, 0), img);
  });

  it('maps every pixel centre of the turned picture back to the pixel it came from', () => {
    const img = labelled();
    for (const turn of TURNS) {
      const turned = turnPixels(img, turn);
      for (let v = 0; v < turned.height; v++)
        for (let u = 0; u < turned.width; u++) {
          const [x, y] = fromTurned([u + 0.5, v + 0.5], turn, img.width, img.height);
          assert.deepEqual(pixel(turned, u, v), [x - 0.5, y - 0.5, 7], `turn ${turn}, (${u}, ${v})`);
        }
    }
  });

  it('maps a detection back with its landmarks, and agrees with the test set turning its boxes', () => {
    const W = 40;
    const H = 30;
    const face: Detection = {
      x: 4,
      y: 6,
      width: 10,
      height: 12,
      score: 0.9,
      landmarks: {
        left_eye: [7, 9],
        right_eye: [11, 9],
        nose: [9, 12],
        mouth_left: [7, 15],
        mouth_right: [11, 15],
      },
    };
    for (const turn of TURNS) {
      // The face as it appears in the turned picture, then mapped back.
      const [tx, ty, tw, th] = turnBox([face.x, face.y, face.width, face.height], turn, W, H);
      const seen = { ...face, x: tx, y: ty, width: tw, height: th, landmarks: undefined };
      const back = fromTurnedDetection(seen, turn, W, H);
      for (const k of ['x', 'y', 'width', 'height'] as const)
        assert.ok(Math.abs(back[k] - face[k]) < 1e-9, `${turn}: ${k}`);
    }
    const back = fromTurnedDetection(face, 90, W, H);
    // In a picture turned 90° clockwise, the original's left edge is at the top.
    assert.deepEqual(back.landmarks!.left_eye, [9, H - 7]);
  });
});

describe('non-maximum suppression', () => {
  const box = (x: number, score: number): Detection => ({ x, y: 0, width: 10, height: 10, score });
  it('keeps the best of overlapping boxes and every separate one', () => {
    const kept = nms([box(0, 0.5), box(1, 0.9), box(30, 0.2)], 0.4);
    assert.deepEqual(
      kept.map((k) => [k.x, k.score]),
      [
        [1, 0.9],
        [30, 0.2],
      ],
    );
  });
});

describe('calibration tables', () => {
  const table = [
    [0, 0],
    [0.5, 0.2],
    [0.9, 0.8],
    [1, 0.9],
  ] as const;
  it('interpolates between knots and holds at the ends', () => {
    assert.equal(calibrate(0, table), 0);
    assert.ok(Math.abs(calibrate(0.7, table) - 0.5) < 1e-12);
    assert.equal(calibrate(1, table), 0.9);
    assert.equal(calibrate(0.25, []), 0.25, 'no table: the raw score');
  });
});
