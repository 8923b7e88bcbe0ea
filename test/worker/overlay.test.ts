import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMOJI_SCALE, emojiPlacement } from '../../worker/overlay.js';

const face = (x: number, y: number, width: number, height: number) => ({ x, y, width, height, score: 0.9 });

describe('emojiPlacement', () => {
  it('centres a square on the face that covers the whole box', () => {
    const p = emojiPlacement(face(100, 100, 40, 60), 1000, 1000)!;
    assert.equal(p.size, Math.ceil(60 * EMOJI_SCALE));
    assert.ok(Math.abs(p.left + p.size / 2 - 120) <= 1);
    assert.ok(Math.abs(p.top + p.size / 2 - 130) <= 1);
    // The circle inscribed in the square contains the box's corners.
    const r = p.size / 2;
    for (const [cx, cy] of [
      [100, 100],
      [140, 100],
      [100, 160],
      [140, 160],
    ] as const) {
      assert.ok(Math.hypot(cx - (p.left + r), cy - (p.top + r)) <= r + 0.5, `corner ${cx},${cy} outside`);
    }
    assert.deepEqual(p.crop, { left: 0, top: 0, width: p.size, height: p.size });
  });

  it('clips at each edge instead of failing', () => {
    const left = emojiPlacement(face(0, 50, 40, 40), 200, 200)!;
    assert.equal(left.left, 0);
    assert.ok(left.crop.left > 0 && left.crop.width < left.size);
    const top = emojiPlacement(face(50, 0, 40, 40), 200, 200)!;
    assert.equal(top.top, 0);
    assert.ok(top.crop.top > 0 && top.crop.height < top.size);
    const right = emojiPlacement(face(170, 50, 30, 30), 200, 200)!;
    assert.equal(right.left + right.crop.width, 200);
    const bottom = emojiPlacement(face(50, 170, 30, 30), 200, 200)!;
    assert.equal(bottom.top + bottom.crop.height, 200);
  });

  it('handles tiny faces and faces larger than the image', () => {
    const tiny = emojiPlacement(face(10, 10, 1, 1), 100, 100)!;
    assert.ok(tiny.size >= 1);
    const huge = emojiPlacement(face(-50, -50, 300, 300), 100, 100)!;
    assert.deepEqual([huge.left, huge.top, huge.crop.width, huge.crop.height], [0, 0, 100, 100]);
  });

  it('returns null for a box entirely outside the image', () => {
    assert.equal(emojiPlacement(face(500, 500, 10, 10), 100, 100), null);
  });
});
