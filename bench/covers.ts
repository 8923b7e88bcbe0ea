// What each cover mode costs on a 10 MP photo with 25 faces, against the emoji paste from before
// cover modes: the layers (render) and the paste + encode pass, on one core's worth of libvips
// threads, median of N runs after a warm-up, the variants taking turns. `npm run bench:covers [-- --runs N --format jpeg|png]`.
//
// The faces are fixed boxes (not detected, so the figures do not move with the detector): 25 on a
// 5 × 5 grid, sides log-spaced from 40 to 400 px, every other one with landmarks rolled ±25° so the
// emoji path turns them.
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import { COVER_MODES, type CoverMode } from '../shared/covers.js';
import { createEmojiRenderer } from '../shared/emojiRenderer.js';
import type { FaceBox, JobOptions, OutputFormat } from '../shared/jobs.js';
import { coverLayers, paste, type Layer, type RawImage, type RenderEmoji } from '../worker/covers/index.js';
import { encoder } from '../worker/pipeline.js';
import { tiltedFace } from '../test/helpers/faces.js';
import { fixturePhotos, tenMegapixelPhoto } from './lib/photos.js';
import { median, round } from './lib/stats.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '15' }, format: { type: 'string', default: 'jpeg' } },
});
const runs = Number(values.runs);
const format = values.format as OutputFormat;

/** The pre-cover-modes paste (worker/overlay.ts before issue 10): upright, 1.45 × the longer side. */
async function legacyEmojiLayers(faces: FaceBox[], image: RawImage, render: RenderEmoji) {
  const layers: OverlayOptions[] = [];
  for (const face of faces) {
    const size = Math.min(8192, Math.max(1, Math.ceil(Math.max(face.width, face.height) * 1.45)));
    const x0 = Math.round(face.x + face.width / 2 - size / 2);
    const y0 = Math.round(face.y + face.height / 2 - size / 2);
    const left = Math.max(0, x0);
    const top = Math.max(0, y0);
    const right = Math.min(image.width, x0 + size);
    const bottom = Math.min(image.height, y0 + size);
    if (right <= left || bottom <= top) continue;
    const crop = { left: left - x0, top: top - y0, width: right - left, height: bottom - top };
    const art = await render('poop', size, 0);
    const input =
      crop.width === size && crop.height === size
        ? art.data
        : await sharp(art.data, { raw: { width: size, height: size, channels: 4 } })
            .extract(crop)
            .raw()
            .toBuffer();
    layers.push({ input, raw: { width: crop.width, height: crop.height, channels: 4 }, left, top });
  }
  return layers;
}

function gridFaces(width: number, height: number): FaceBox[] {
  const faces: FaceBox[] = [];
  for (let i = 0; i < 25; i++) {
    const side = Math.round(40 * 10 ** (i / 24));
    const cx = Math.round(((i % 5) + 0.5) * (width / 5));
    const cy = Math.round((Math.floor(i / 5) + 0.5) * (height / 5));
    const f = tiltedFace(cx, cy, side, Math.round(side * 1.2), i % 2 ? (i % 4 === 1 ? 25 : -25) : 0);
    faces.push({ ...f, x: Math.round(f.x), y: Math.round(f.y) });
  }
  return faces;
}

sharp.concurrency(1);
const photo = await tenMegapixelPhoto(await fixturePhotos());
const { data, info } = await sharp(photo.bytes)
  .rotate()
  .toColourspace('srgb')
  .raw()
  .toBuffer({ resolveWithObject: true });
const image: RawImage = { data, width: info.width, height: info.height, channels: info.channels };
const faces = gridFaces(image.width, image.height);
const renderer = createEmojiRenderer();
const render: RenderEmoji = (name, size, angle) => renderer.render(name, size, angle);

type Variant = { name: string; layers: () => Promise<OverlayOptions[] | Layer[]>; legacy?: boolean };
const opts = (mode: CoverMode): JobOptions => ({ mode, format, minConfidence: 0.5 });
const variants: Variant[] = [
  {
    name: 'before (upright emoji, 1.45 ×)',
    layers: () => legacyEmojiLayers(faces, image, render),
    legacy: true,
  },
  ...COVER_MODES.map((mode) => ({
    name: mode,
    layers: () => coverLayers(faces, opts(mode), { image, renderEmoji: render, seed: 'bench' }),
  })),
];

const raw = { raw: { width: image.width, height: image.height, channels: 3 as const } };
/**
 * One job's cover half, as the pipeline runs it: layers, then paste + encode (before: libvips
 * composite in the encode pass; now: paste in place, then encode). Wall time, and this process's
 * CPU time (all its threads), which other work on the machine disturbs less.
 */
async function once(v: Variant) {
  // The pipeline pastes onto its own decoded buffer; here a fresh copy, made outside the timing.
  const pixels = Buffer.from(image.data);
  const cpu = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const layers = await v.layers();
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  if (v.legacy) {
    await encoder(
      sharp(pixels, raw).composite(layers).removeAlpha(),
      format,
      image.width * image.height,
    ).toBuffer();
  } else {
    paste({ ...image, data: pixels }, layers as Layer[]);
    await encoder(sharp(pixels, raw), format, image.width * image.height).toBuffer();
  }
  const t2 = performance.now();
  const c2 = process.cpuUsage(c0);
  return { render: t1 - t0, encode: t2 - t1, total: t2 - t0, cpuRender: cpu(c1), cpuTotal: cpu(c2) };
}

const area = faces.reduce((a, f) => a + f.width * f.height, 0);
console.log(
  `# covers: ${image.width}×${image.height} (${((image.width * image.height) / 1e6).toFixed(1)} MP), ` +
    `${faces.length} faces (${(area / 1e6).toFixed(2)} MP of boxes), ${format}, ${runs} runs, sharp.concurrency(1)\n`,
);
// Round-robin over the variants, so that a machine busy with other work slows all of them alike.
for (let i = 0; i < 2; i++) for (const v of variants) await once(v); // warm-up: emoji rasters cached, JIT
const samples = variants.map(() => [] as Awaited<ReturnType<typeof once>>[]);
for (let i = 0; i < runs; i++) for (const [k, v] of variants.entries()) samples[k]!.push(await once(v));
const med = (k: number, key: keyof Awaited<ReturnType<typeof once>>) =>
  median(samples[k]!.map((s) => s[key]));
const rows = variants.map((v, k) => ({
  name: v.name,
  render: med(k, 'render'),
  encode: med(k, 'encode'),
  total: med(k, 'total'),
  cpuRender: med(k, 'cpuRender'),
  cpuTotal: med(k, 'cpuTotal'),
}));
const base = rows[0]!;
console.log(
  '| cover | render ms | paste + encode ms | total ms | × before | CPU render ms | CPU total ms | CPU × before |',
);
console.log(
  '| ----- | --------: | ----------------: | -------: | -------: | ------------: | -----------: | -----------: |',
);
for (const r of rows) {
  console.log(
    `| ${r.name} | ${round(r.render)} | ${round(r.encode)} | ${round(r.total)} | ${round(r.total / base.total, 2)} ` +
      `| ${round(r.cpuRender)} | ${round(r.cpuTotal)} | ${round(r.cpuTotal / base.cpuTotal, 2)} |`,
  );
}
