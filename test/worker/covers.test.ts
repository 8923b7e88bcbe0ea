// Every cover mode on synthetic images, in pixels: the emoji turns with the eyes and hides the
// whole box, blur and pixelate remove detail at the face's own scale, solid is one colour, outline
// leaves the face as it was, and layers stay inside the image whatever the boxes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { COVER_MODES, type CoverMode } from '../../shared/covers.js';
import { EMOJIS } from '../../shared/emojis.js';
import type { FaceBox, JobOptions } from '../../shared/jobs.js';
import { blockSize } from '../../worker/covers/pixelate.js';
import { coverLayers, paste as pasteInPlace, type Layer, type RawImage } from '../../worker/covers/index.js';
import { box, boxPixels, coverage, tiltedFace } from '../helpers/faces.js';
import { renderEmoji } from '../helpers/worker.js';

const options = (o: Partial<JobOptions>): JobOptions => ({ format: 'png', minConfidence: 0.5, ...o });

function plain(width: number, height: number, rgb: [number, number, number], channels = 3): RawImage {
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    data.set(rgb, i * channels);
    if (channels === 4) data[i * channels + 3] = 255;
  }
  return { data, width, height, channels };
}

/** A checkerboard of `cell` px squares, black and white. */
function checker(width: number, height: number, cell: number): RawImage {
  const img = plain(width, height, [0, 0, 0]);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((Math.floor(x / cell) + Math.floor(y / cell)) % 2)
        img.data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return img;
}

/** A copy of the image with the layers pasted, as the pipeline pastes them. */
function paste(img: RawImage, layers: Layer[]): RawImage {
  const out = { ...img, data: Buffer.from(img.data) };
  pasteInPlace(out, layers);
  return out;
}

async function cover(img: RawImage, faces: FaceBox[], o: Partial<JobOptions>) {
  const layers = await coverLayers(faces, options(o), { image: img, renderEmoji, seed: 'test' });
  return { layers, out: paste(img, layers) };
}

const px = (img: RawImage, x: number, y: number) => [
  ...img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x + 1) * img.channels),
];

/** Standard deviation of the grey level over the box. */
function boxStd(img: RawImage, f: FaceBox): number {
  const values = boxPixels(f).map(([x, y]) => {
    const [r, g, b] = px(img, x, y);
    return (r! + g! + b!) / 3;
  });
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
}

describe('emoji', () => {
  const BG: [number, number, number] = [40, 160, 90];

  /**
   * The angle the pasted emoji is turned by, measured independently of the renderer's turning: the
   * upright art flattened on the background, turned by libvips for each candidate angle, compared
   * with the output over the emoji's central disc. Returns the best candidate.
   */
  async function measuredAngle(out: RawImage, layer: Layer, name: string, side: number) {
    const lw = layer.raw!.width;
    const cx = layer.left! + lw / 2;
    const cy = layer.top! + layer.raw!.height / 2;
    const upright = await renderEmoji(name, side, 0);
    const flat = await sharp(upright.data, { raw: { width: side, height: side, channels: 4 } })
      .flatten({ background: { r: BG[0], g: BG[1], b: BG[2] } })
      .raw()
      .toBuffer();
    const radius = side * 0.4;
    const score = async (angle: number) => {
      const { data, info } = await sharp(flat, { raw: { width: side, height: side, channels: 3 } })
        .rotate(angle, { background: { r: BG[0], g: BG[1], b: BG[2] } })
        .raw()
        .toBuffer({ resolveWithObject: true });
      let sum = 0;
      let n = 0;
      for (let y = -radius; y <= radius; y += 2) {
        for (let x = -radius; x <= radius; x += 2) {
          if (x * x + y * y > radius * radius) continue;
          const ox = Math.round(cx + x);
          const oy = Math.round(cy + y);
          const rx = Math.round(info.width / 2 + x);
          const ry = Math.round(info.height / 2 + y);
          const o = (oy * out.width + ox) * 3;
          const r = (ry * info.width + rx) * 3;
          sum +=
            Math.abs(out.data[o]! - data[r]!) +
            Math.abs(out.data[o + 1]! - data[r + 1]!) +
            Math.abs(out.data[o + 2]! - data[r + 2]!);
          n++;
        }
      }
      return sum / n;
    };
    let best = { angle: 0, err: Infinity };
    for (let a = -180; a < 180; a += 5) {
      const err = await score(a);
      if (err < best.err) best = { angle: a, err };
    }
    for (let a = best.angle - 5; a <= best.angle + 5; a += 0.5) {
      const err = await score(a);
      if (err < best.err) best = { angle: a, err };
    }
    return best.angle;
  }

  it('turns with the eye line, within 2°, and stays upright when the landmarks are not to be trusted', async () => {
    const img = plain(420, 420, BG);
    for (const name of ['grin', 'poop']) {
      for (const [roll, expected] of [
        [0, 0],
        [-35, -35],
        [20, 20],
        [62, 62],
        [90, 90],
        [160, 0], // beyond the roll bound
      ] as const) {
        const face = tiltedFace(210, 210, 120, 140, roll);
        const { layers, out } = await cover(img, [face], { mode: 'emoji', emoji: name, coverScale: 1 });
        assert.equal(layers.length, 1);
        // The raster of a square turned by θ is side·(|cos θ| + |sin θ|) wide: recover the side.
        const a = (expected * Math.PI) / 180;
        const side = Math.round(layers[0]!.raw!.width / (Math.abs(Math.cos(a)) + Math.abs(Math.sin(a))));
        const got = await measuredAngle(out, layers[0]!, name, side);
        assert.ok(
          Math.abs(got - expected) <= 2,
          `${name} on a face rolled ${roll}°: emoji turned ${got}°, expected ${expected}°`,
        );
      }
    }
  });

  it('hides every pixel of the face box, whatever the emoji, angle and box shape', async () => {
    const W = 400;
    for (const { name } of EMOJIS) {
      for (const roll of [0, 17, 45, 71, 90, -30, -65]) {
        for (const [w, h] of [
          [100, 124],
          [130, 96],
          [60, 60],
        ] as const) {
          const face = tiltedFace(200, 200, w, h, roll);
          const layers = await coverLayers([face], options({ mode: 'emoji', emoji: name, coverScale: 1 }), {
            image: plain(W, W, BG),
            renderEmoji,
            seed: '',
          });
          const alpha = await coverage(W, W, layers);
          const holes = boxPixels(face).filter(([x, y]) => alpha[y * W + x]! < 255);
          assert.deepEqual(
            holes.slice(0, 5),
            [],
            `${name} ${w}x${h} @${roll}°: ${holes.length} pixels of the box show`,
          );
        }
      }
    }
  });

  it('takes a list in turn and random per job, and fails a job naming an unknown emoji', async () => {
    const img = plain(600, 200, BG);
    const faces = [box(20, 50, 80, 80), box(220, 50, 80, 80), box(420, 50, 80, 80)];
    const listed = await cover(img, faces, { mode: 'emoji', emoji: 'ghost,alien' });
    const alone = async (name: string, f: FaceBox) =>
      (await cover(img, [f], { mode: 'emoji', emoji: name })).layers[0]!.input;
    assert.deepEqual(listed.layers[0]!.input, await alone('ghost', faces[0]!));
    assert.deepEqual(listed.layers[1]!.input, await alone('alien', faces[1]!));
    assert.deepEqual(listed.layers[2]!.input, await alone('ghost', faces[2]!));
    const random = (seed: string) =>
      coverLayers(faces, options({ mode: 'emoji', emoji: 'random' }), { image: img, renderEmoji, seed });
    const [a, b] = [await random('job-a'), await random('job-a')];
    assert.deepEqual(
      a.map((l) => l.input),
      b.map((l) => l.input),
    );
    // Three faces, three different emoji.
    const distinct = new Set(a.map((l) => (l.input as Buffer).toString('base64')));
    assert.equal(distinct.size, 3);
    await assert.rejects(cover(img, faces, { mode: 'emoji', emoji: 'nope' }), { name: 'UnknownEmojiError' });
  });
});

describe('blur', () => {
  it('removes detail at the face scale on a 20 px and a 400 px face alike', async () => {
    for (const size of [20, 400]) {
      // A checkerboard of cells a tenth of the face: the scale of eyes, nostrils, lips.
      const img = checker(size * 3, size * 3, size / 10);
      const face = box(size, size, size, size);
      const { out } = await cover(img, [face], { mode: 'blur' });
      const before = boxStd(img, face);
      const after = boxStd(out, face);
      assert.ok(
        after < 0.05 * before,
        `${size} px: contrast ${after.toFixed(1)} of ${before.toFixed(1)} is left`,
      );
    }
  });

  it('blurs every pixel of the box at full strength, small faces and large (shrunk) ones', async () => {
    for (const size of [12, 20, 63, 65, 101, 400]) {
      for (const shape of ['ellipse', 'box'] as const) {
        const W = size * 3;
        const face = box(size, size + 1, size, Math.round(size * 1.2));
        const { layers } = await cover(checker(W, W, 3), [face], { mode: 'blur', shape, coverScale: 1 });
        const alpha = await coverage(W, W, layers);
        const holes = boxPixels(face).filter(([x, y]) => alpha[y * W + x]! < 255);
        assert.deepEqual(
          holes.slice(0, 3),
          [],
          `${size} px ${shape}: ${holes.length} box pixels not fully blurred`,
        );
      }
    }
  });

  it('fades out over a feathered edge instead of a hard seam', async () => {
    const img = checker(300, 300, 4);
    const face = box(100, 100, 100, 100);
    const { layers } = await cover(img, [face], { mode: 'blur', shape: 'box', coverScale: 1 });
    const alpha = await coverage(300, 300, layers);
    // Along a row through the centre, leaving the box to the right: full, then falling, then none.
    const row = [...Array(40).keys()].map((i) => alpha[150 * 300 + 199 + i]!);
    assert.equal(row[0], 255);
    const partial = row.filter((a) => a > 0 && a < 255).length;
    assert.ok(partial >= 8, `only ${partial} px of fade`);
    assert.equal(row[39], 0);
  });
});

describe('pixelate', () => {
  it('fills whole blocks of max(4, width / 8) px with one colour, on a 20 px and a 400 px face', async () => {
    for (const size of [20, 400]) {
      // Cells not a divisor of the block, so that blocks differ.
      const img = checker(size * 3, size * 3, Math.round(size / 7));
      const face = box(size, size, size, size);
      const b = blockSize(face);
      assert.equal(b, Math.max(4, Math.floor(size / 8)));
      const { out } = await cover(img, [face], { mode: 'pixelate', shape: 'box', coverScale: 1 });
      // Within each row of the box, the colour changes only at block edges (of the grid anchored at
      // the cover's corner, the box's own at scale 1).
      let changes = 0;
      for (const [x, y] of boxPixels(face)) {
        if (x === face.x) continue;
        if (px(out, x, y).join() !== px(out, x - 1, y).join()) {
          changes++;
          assert.equal((x - face.x) % b, 0, `${size} px: colour changes inside a block at (${x}, ${y})`);
        }
      }
      assert.ok(changes > 0, 'some blocks differ');
      assert.ok(boxStd(out, face) < 0.5 * boxStd(img, face));
    }
  });
});

describe('solid', () => {
  it('paints the whole box one colour and leaves the outside of the shape alone', async () => {
    const img = checker(300, 300, 3);
    const face = box(100, 80, 90, 110);
    for (const [color, rgb] of [
      ['#112233', [0x11, 0x22, 0x33]],
      ['#ff8800', [255, 136, 0]],
    ] as const) {
      for (const shape of ['ellipse', 'box'] as const) {
        const { layers, out } = await cover(img, [face], { mode: 'solid', color, shape });
        for (const [x, y] of boxPixels(face))
          assert.deepEqual(px(out, x, y), [...rgb], `${shape} ${color} at ${x},${y}`);
        const alpha = await coverage(300, 300, layers);
        for (let i = 0; i < alpha.length; i++) {
          if (alpha[i] === 0)
            assert.deepEqual(px(out, i % 300, Math.floor(i / 300)), px(img, i % 300, Math.floor(i / 300)));
        }
      }
    }
  });
});

describe('outline', () => {
  it('draws the box just outside itself, the score above it, and hides nothing of the face', async () => {
    const img = checker(300, 300, 5);
    const faces = [tiltedFace(150, 150, 100, 120, 25), tiltedFace(150, 30, 60, 60, 0), box(230, 230, 60, 60)];
    const { out } = await cover(img, faces, { mode: 'outline', color: '#ff00ff' });
    for (const face of faces.slice(2)) {
      for (const [x, y] of boxPixels(face)) assert.deepEqual(px(out, x, y), px(img, x, y), `${x},${y}`);
    }
    // The first face's box interior is untouched except for its landmark dots and eye line.
    const f = faces[0]!;
    const changed = boxPixels(f).filter(([x, y]) => px(out, x, y).join() !== px(img, x, y).join()).length;
    assert.ok(changed > 0 && changed < 0.1 * f.width * f.height, `${changed} px of the box drawn over`);
    // A ring just outside the last box is the colour.
    const g = faces[2]!;
    assert.deepEqual(px(out, g.x + 30, g.y - 1), [255, 0, 255]);
    assert.deepEqual(px(out, g.x - 1, g.y + 30), [255, 0, 255]);
    // The label above the last box: magenta pixels there.
    const label = [...Array(10).keys()].filter((i) => px(out, g.x + i, g.y - 8).join() === '255,0,255');
    assert.ok(label.length > 0);
  });
});

describe('every mode', () => {
  it('keeps layers inside the image for boxes across every edge, larger than the image, or outside it', async () => {
    const img = plain(200, 150, [120, 120, 120]);
    const faces = [
      box(-20, 40, 60, 60),
      box(170, 40, 60, 60),
      box(60, -30, 50, 50),
      box(60, 120, 50, 50),
      box(-100, -100, 500, 400),
      box(400, 400, 20, 20),
      tiltedFace(5, 5, 40, 40, 45),
    ];
    for (const mode of COVER_MODES) {
      const { out } = await cover(img, faces, { mode });
      assert.deepEqual([out.width, out.height], [200, 150], mode);
    }
  });

  it('keeps a transparent part of a photo transparent', async () => {
    const img = plain(200, 200, [200, 50, 50], 4);
    for (let y = 0; y < 200; y++) for (let x = 0; x < 100; x++) img.data[(y * 200 + x) * 4 + 3] = 0;
    const face = box(70, 70, 60, 60);
    for (const mode of ['blur', 'pixelate'] satisfies CoverMode[]) {
      const { out } = await cover(img, [face], { mode });
      assert.equal(out.channels, 4);
      assert.equal(px(out, 80, 100)[3], 0, `${mode}: a transparent pixel inside the cover`);
      assert.equal(px(out, 120, 100)[3], 255, `${mode}: an opaque pixel inside the cover`);
    }
  });

  it('pastes as libvips composites ("over"), to within one level, on opaque and transparent photos', async () => {
    for (const channels of [3, 4]) {
      const img = checker(64, 48, 5);
      const base: RawImage = channels === 3 ? img : { ...img, channels: 4, data: Buffer.alloc(64 * 48 * 4) };
      if (channels === 4) {
        for (let i = 0; i < 64 * 48; i++) {
          img.data.copy(base.data, i * 4, i * 3, i * 3 + 3);
          base.data[i * 4 + 3] = (i * 37) % 256;
        }
      }
      const input = Buffer.alloc(30 * 20 * 4);
      for (let i = 0; i < 30 * 20; i++)
        input.set([(i * 7) % 256, (i * 13) % 256, 200, (i * 11) % 256], i * 4);
      // The same bytes at an odd offset: paste reads 32-bit words only from aligned layers.
      const unaligned = Buffer.alloc(input.length + 1).subarray(1);
      input.copy(unaligned);
      for (const bytes of [input, unaligned]) {
        const layer: Layer = { input: bytes, raw: { width: 30, height: 20, channels: 4 }, left: 20, top: 15 };
        const ours = paste(base, [layer]);
        const raw = { raw: { width: 64, height: 48, channels: channels as 3 | 4 } };
        const composited = sharp(base.data, raw).composite([{ ...layer, input: Buffer.from(bytes) }]);
        if (channels === 3) composited.removeAlpha();
        const theirs = await composited.raw().toBuffer();
        let worst = 0;
        for (let i = 0; i < ours.data.length; i++) {
          // Colour under (almost) no alpha is meaningless: compare premultiplied where the photo has alpha.
          const a = channels === 4 ? theirs[i - (i % 4) + 3]! / 255 : 1;
          const isAlpha = channels === 4 && i % 4 === 3;
          worst = Math.max(worst, Math.abs(ours.data[i]! - theirs[i]!) * (isAlpha ? 1 : a));
        }
        assert.ok(worst <= 1, `${channels} channels, offset ${bytes.byteOffset % 4}: off by ${worst}`);
      }
    }
  });

  it('returns no layer for no face', async () => {
    for (const mode of COVER_MODES) {
      assert.deepEqual(
        await coverLayers([], options({ mode }), { image: plain(10, 10, [0, 0, 0]), renderEmoji, seed: '' }),
        [],
      );
    }
  });
});
