// The covers' geometry without pixels: roll from landmarks and its fallbacks, the shapes around a
// box, emoji choice, and where an emoji goes.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { emojiList, parseEmojiSpec, parseHexColor, resolveCover } from '../../shared/covers.js';
import { EMOJIS } from '../../shared/emojis.js';
import type { FaceBox } from '../../shared/jobs.js';
import {
  artProfile,
  emojiChoice,
  emojiFit,
  emojiPlacement,
  type ArtProfile,
} from '../../worker/covers/emoji.js';
import { coverShape, faceRoll, MAX_ROLL_DEG } from '../../worker/covers/geometry.js';
import { shapeMask, shapeMaskSlow, signedDistance } from '../../worker/covers/pixels.js';
import { box, tiltedFace } from '../helpers/faces.js';
import { renderEmoji } from '../helpers/worker.js';

const corners = (f: FaceBox): [number, number][] => [
  [f.x, f.y],
  [f.x + f.width, f.y],
  [f.x, f.y + f.height],
  [f.x + f.width, f.y + f.height],
];

describe('faceRoll', () => {
  it('is the angle of the eye line, clockwise as seen', () => {
    for (const roll of [0, 12.5, -35, 60, 90, -90, MAX_ROLL_DEG - 1]) {
      const r = faceRoll(tiltedFace(300, 300, 120, 140, roll));
      assert.equal(r.from, 'landmarks', `${roll}°`);
      assert.ok(Math.abs(r.angle - roll) < 1e-9, `${roll}° read as ${r.angle}°`);
    }
  });

  it('falls back to upright without landmarks or with implausible ones, saying why', () => {
    const good = tiltedFace(300, 300, 120, 140, 30);
    const lm = good.landmarks;
    const cases: [string, FaceBox, RegExp][] = [
      ['no landmarks', box(10, 10, 50, 60), /no landmarks/],
      ['NaN', { ...good, landmarks: { ...lm, nose: [NaN, 3] } }, /not numbers/],
      [
        'eye outside',
        { ...good, landmarks: { ...lm, right_eye: [good.x + good.width * 1.3, lm.right_eye[1]] } },
        /outside/,
      ],
      [
        'eyes together',
        { ...good, landmarks: { ...lm, right_eye: [lm.left_eye[0] + 3, lm.left_eye[1] + 1] } },
        /too close/,
      ],
      // Eyes given the wrong way round: the eye line says 210°, the mouth says it is above them.
      [
        'eyes swapped',
        { ...good, landmarks: { ...lm, left_eye: lm.right_eye, right_eye: lm.left_eye } },
        /mouth/,
      ],
      [
        'mouth on the eye line',
        { ...good, landmarks: { ...lm, mouth_left: lm.left_eye, mouth_right: lm.right_eye } },
        /mouth/,
      ],
      ['upside down', tiltedFace(300, 300, 120, 140, 150), /beyond/],
    ];
    for (const [what, face, reason] of cases) {
      const r = faceRoll(face);
      assert.equal(r.from, 'upright', what);
      assert.equal(r.angle, 0, what);
      assert.match((r as { reason: string }).reason, reason, what);
    }
  });
});

describe('coverShape', () => {
  const inside = (s: ReturnType<typeof coverShape>, [x, y]: [number, number]) =>
    signedDistance(s, x, y) <= 1e-9;

  it('at scale 1 passes through the box corners (ellipse) or is the box', () => {
    const f = box(100, 50, 80, 100);
    for (const kind of ['ellipse', 'box'] as const) {
      const s = coverShape(f, kind, 1);
      for (const c of corners(f)) assert.ok(Math.abs(signedDistance(s, c[0], c[1])) < 1e-6, `${kind} ${c}`);
    }
  });

  it('contains the whole box at every scale and roll, growing upward along the face', () => {
    for (const roll of [0, 25, -40, 90]) {
      const f = tiltedFace(400, 400, 90, 110, roll);
      for (const kind of ['ellipse', 'box'] as const) {
        const base = coverShape(f, kind, 1);
        for (const scale of [1, 1.3, 1.5, 2, 3]) {
          const s = coverShape(f, kind, scale);
          for (const c of corners(f))
            assert.ok(inside(s, c), `${kind} ×${scale} @${roll}°: corner ${c} outside`);
          // The centre moves along the face's up (sin θ, −cos θ).
          const a = (roll * Math.PI) / 180;
          const along = (s.cx - base.cx) * Math.sin(a) - (s.cy - base.cy) * Math.cos(a);
          const across = (s.cx - base.cx) * Math.cos(a) + (s.cy - base.cy) * Math.sin(a);
          assert.ok(
            along >= 0 && Math.abs(across) < 1e-9,
            `${kind} ×${scale} @${roll}°: moved off the face's up`,
          );
        }
      }
    }
    // Upright, the lower edge stays where it is at scale 1: the growth goes to the hair.
    const f = box(100, 100, 80, 100);
    for (const kind of ['ellipse', 'box'] as const) {
      const bottom = (sc: number) => coverShape(f, kind, sc).cy + coverShape(f, kind, sc).ry;
      assert.ok(Math.abs(bottom(2) - bottom(1)) < 1e-9, kind);
    }
  });

  it('computes the mask by spans exactly as pixel by pixel', () => {
    const shapes = [
      coverShape(box(20, 20, 40, 50), 'ellipse', 1.3),
      coverShape(box(3.5, 7, 9, 31), 'ellipse', 1),
      coverShape(box(20, 20, 40, 50), 'box', 1.5),
      coverShape(box(0, 0, 1, 1), 'ellipse', 1),
    ];
    for (const s of shapes) {
      for (const r of [
        { left: 0, top: 0, width: 140, height: 150 },
        { left: 30, top: 10, width: 17, height: 90 },
      ]) {
        for (const feather of [0, 1, 2.5, 12]) {
          assert.deepEqual(
            shapeMask(s, r, feather),
            shapeMaskSlow(s, r, feather),
            `${JSON.stringify(s)} f=${feather}`,
          );
        }
      }
    }
  });

  it('masks every pixel whose centre is in the shape at full strength, fading outside', () => {
    const s = coverShape(box(20, 20, 40, 50), 'ellipse', 1.3);
    const r = { left: 0, top: 0, width: 120, height: 120 };
    const feathered = shapeMask(s, r, 6);
    const hard = shapeMask(s, r, 0);
    for (let y = 0; y < r.height; y++) {
      for (let x = 0; x < r.width; x++) {
        const d = signedDistance(s, x + 0.5, y + 0.5);
        const i = y * r.width + x;
        if (d <= 0) assert.equal(feathered[i], 255);
        if (d <= 0) assert.equal(hard[i], 255);
        if (d >= 6) assert.equal(feathered[i], 0);
        if (d >= 1) assert.equal(hard[i], 0);
      }
    }
  });
});

describe('emoji geometry', () => {
  const profiles = new Map<string, ArtProfile>();
  before(async () => {
    for (const { name } of EMOJIS) profiles.set(name, artProfile(await renderEmoji(name, 512, 0)));
  });

  it('sizes the emoji so that the face box lies inside the opaque art at every angle', () => {
    for (const [name, profile] of profiles) {
      for (const [w, h] of [
        [100, 100],
        [80, 100],
        [100, 70],
      ] as const) {
        for (const angle of [0, 15, 30, 45, 70, 90, -20, -60]) {
          const f = box(500, 500, w, h);
          const fit = emojiFit(f, angle, profile);
          const a = (angle * Math.PI) / 180;
          // Every point of the box outline, in the art's own frame, is within the opaque radius.
          for (let i = 0; i <= 200; i++) {
            const t = i / 200;
            for (const [px, py] of [
              [f.x + t * w, f.y],
              [f.x + t * w, f.y + h],
              [f.x, f.y + t * h],
              [f.x + w, f.y + t * h],
            ] as const) {
              const qx = px - fit.cx;
              const qy = py - fit.cy;
              const ux = qx * Math.cos(a) + qy * Math.sin(a);
              const uy = -qx * Math.sin(a) + qy * Math.cos(a);
              const k = Math.round((Math.atan2(uy, ux) * 180) / Math.PI + 360) % 360;
              assert.ok(
                Math.hypot(ux, uy) <= (profile.radius[k]! * fit.side) / 2 + 1e-6,
                `${name} ${w}x${h} @${angle}°: (${px},${py}) outside`,
              );
            }
          }
        }
      }
    }
  });

  it('keeps the round emoji at about the old size, upright, centred', () => {
    for (const name of ['grin', 'sunglasses']) {
      const f = box(100, 100, 100, 100);
      const fit = emojiFit(f, 0, profiles.get(name)!);
      // The old rule was 1.45 × the longer side; the art's opaque disc needs just over that.
      assert.ok(fit.side > 1.4 * 100 && fit.side < 1.55 * 100, `${name}: ${fit.side}`);
      assert.ok(Math.abs(fit.cx - 150) < 1e-9 && Math.abs(fit.cy - 150) < 1e-9);
    }
  });

  it('places the turned raster centred, clipped at the image edges', () => {
    const p = profiles.get('grin')!;
    const mid = emojiPlacement(tiltedFace(200, 200, 80, 100, 30), p, 1.1, 400, 400)!;
    assert.equal(mid.angle, 30);
    assert.ok(mid.turned > mid.side);
    assert.deepEqual(mid.crop, { left: 0, top: 0, width: mid.turned, height: mid.turned });
    assert.ok(
      Math.abs(mid.left + mid.turned / 2 - 200) <= 1 && Math.abs(mid.top + mid.turned / 2 - 200) <= 1,
    );
    const edge = emojiPlacement(box(0, 0, 40, 40), p, 1.1, 200, 200)!;
    assert.deepEqual([edge.left, edge.top], [0, 0]);
    assert.ok(edge.crop.left > 0 && edge.crop.top > 0);
    assert.equal(edge.crop.left + edge.crop.width, edge.turned);
    const huge = emojiPlacement(box(-50, -50, 300, 300), p, 1.1, 100, 100)!;
    assert.deepEqual([huge.left, huge.top, huge.crop.width, huge.crop.height], [0, 0, 100, 100]);
    assert.equal(emojiPlacement(box(500, 500, 10, 10), p, 1.1, 100, 100), null);
    // Implausible landmarks: upright.
    assert.equal(emojiPlacement(tiltedFace(200, 200, 80, 100, 170), p, 1, 400, 400)!.angle, 0);
  });
});

describe('emoji choice', () => {
  it('takes a list in turn', () => {
    assert.deepEqual(emojiChoice('poop,ghost', 5, 'x'), ['poop', 'ghost', 'poop', 'ghost', 'poop']);
    assert.deepEqual(emojiChoice('alien', 2, 'x'), ['alien', 'alien']);
    assert.deepEqual(emojiChoice('alien', 0, 'x'), []);
  });

  it('random: every emoji once before any repeats, the same for the same seed, another for another', () => {
    const names = EMOJIS.map((e) => e.name).sort();
    const a = emojiChoice('random', 12, 'job-1');
    assert.deepEqual(a.slice(0, names.length).sort(), names);
    assert.deepEqual(a.slice(names.length, 2 * names.length).sort(), names);
    assert.deepEqual(emojiChoice('random', 12, 'job-1'), a);
    const others = ['job-2', 'job-3', 'job-4', 'job-5'].map((s) => emojiChoice('random', 12, s).join());
    assert.ok(
      others.some((o) => o !== a.join()),
      'the seed changes the order',
    );
  });
});

describe('option syntax', () => {
  it('parses emoji specs', () => {
    assert.deepEqual(parseEmojiSpec(' poop , ghost '), { spec: 'poop,ghost' });
    assert.deepEqual(parseEmojiSpec('random'), { spec: 'random' });
    for (const bad of [
      'nope',
      'poop,',
      ',poop',
      'poop,,ghost',
      'random,poop',
      'POOP',
      Array(33).fill('poop').join(),
    ]) {
      assert.ok('error' in parseEmojiSpec(bad), bad);
    }
    assert.deepEqual(emojiList('poop,ghost'), ['poop', 'ghost']);
  });

  it('parses hex colours, opaque only', () => {
    assert.equal(parseHexColor('#F0a'), '#ff00aa');
    assert.equal(parseHexColor('12AB9f'), '#12ab9f');
    for (const bad of ['#12345', '#ff00ff80', '#f0a8', 'red', '#ggg', '', '#'])
      assert.equal(parseHexColor(bad), null, bad);
  });

  it('fills defaults per mode; records from before modes are the emoji mode', () => {
    assert.deepEqual(resolveCover({ emoji: 'ghost', format: 'png', minConfidence: 0.5 }), {
      mode: 'emoji',
      emoji: 'ghost',
      coverScale: 1.1,
    });
    assert.deepEqual(resolveCover({ mode: 'solid', format: 'png', minConfidence: 0.5 }), {
      mode: 'solid',
      shape: 'ellipse',
      coverScale: 1.3,
      color: '#000000',
    });
    assert.deepEqual(resolveCover({ mode: 'pixelate', shape: 'box', format: 'png', minConfidence: 0.5 }), {
      mode: 'pixelate',
      shape: 'box',
      coverScale: 1.5,
    });
    assert.deepEqual(resolveCover({ mode: 'outline', format: 'png', minConfidence: 0.5 }), {
      mode: 'outline',
      color: '#00ff00',
    });
  });
});
