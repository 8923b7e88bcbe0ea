// `npm run bench:onnx`: the onnx backend against face-api on WebAssembly, same photos (the fixtures),
// same machine, one run. Writes its section of docs/onnx.md (between the bench:onnx markers) and
// prints it; `--json` prints the figures as JSON instead (for `npm run bench`).
//
// Measured, interleaved photo by photo so both backends see the same machine load:
// - SSD per photo: wasm, onnx on 1 thread (per-core speed), onnx on 2;
// - end-to-end throughput of the worker's pipeline (decode → detect → emoji → JPEG) in one process;
// - evaluate.mjs scores of both on the fixtures, and the model build.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmojiRenderer } from '../shared/emojiRenderer.js';
import type { FaceBox } from '../shared/jobs.js';
import { createLogger } from '../shared/logger.js';
import { createDetector, type FaceDetector, type RgbImage } from '../worker/detectors/index.js';
import { buildSsdMobilenetv1Onnx } from '../worker/onnx/ssdMobilenetv1.js';
import { processImage } from '../worker/pipeline.js';
import { evaluate, loadFixtures, repoRoot, type Score } from '../test/helpers/fixtures.js';
import { detectionCopy } from '../test/onnx/images.js';
import { mdTable, writeGeneratedSection } from './lib/docs.js';

const med = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r0 = (x: number) => Math.round(x);
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

async function time<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await f();
  return [performance.now() - t, v];
}

export interface OnnxBenchResult {
  machine: { cpu: string; cores: number; node: string; loadBefore: number; loadAfter: number; date: string };
  /** How long the whole measurement took. */
  seconds: number;
  rounds: number;
  model: { buildMs: number; bytes: number };
  loadMs: { wasm: number; onnx: number };
  photos: {
    file: string;
    size: string;
    faces: number;
    ssdMs: { wasm: number; onnx1: number; onnx2: number };
  }[];
  bySize: { size: string; photos: number; wasm: number; onnx1: number; onnx2: number; ratio: number }[];
  median: {
    wasm: number;
    onnx1: number;
    onnx2: number;
    ratio: number;
  };
  throughput: { backend: string; images: number; seconds: number; imagesPerSecond: number }[];
  scores: { wasm: Score; onnx: Score; equal: boolean };
}

export async function benchOnnx(rounds = 3): Promise<OnnxBenchResult> {
  const log = createLogger('bench-onnx', 'silent');
  const loadBefore = loadavg()[0]!;
  const began = performance.now();
  const [buildMs, built] = await time(async () => buildSsdMobilenetv1Onnx());
  const ssd = (backend: 'wasm' | 'onnx', onnxThreads = 1) =>
    createDetector({ detector: 'ssd', backend, tinyInputSize: 416, onnxThreads }, log);
  const [wasmLoad, wasm] = await time(() => ssd('wasm'));
  const [onnxLoad, onnx1] = await time(() => ssd('onnx'));
  const onnx2 = await ssd('onnx', 2);

  const fixtures = loadFixtures();
  const images: { file: string; img: RgbImage }[] = [];
  for (const f of fixtures) images.push({ file: f.file, img: await detectionCopy(f.path) });

  // Per photo: every round runs each detector once on it, in the same order.
  const photos: OnnxBenchResult['photos'] = [];
  for (const { file, img } of images) {
    const s = { wasm: [] as number[], onnx1: [] as number[], onnx2: [] as number[] };
    let faces = 0;
    for (let r = 0; r < rounds; r++) {
      const run = async (det: FaceDetector) => (await time(() => det.detect(img, 0.5)))[0];
      s.wasm.push(await run(wasm));
      const [ms, found] = await time(() => onnx1.detect(img, 0.5));
      s.onnx1.push(ms);
      s.onnx2.push(await run(onnx2));
      faces = found.length;
    }
    photos.push({
      file,
      size: `${img.width}×${img.height}`,
      faces,
      ssdMs: { wasm: r0(med(s.wasm)), onnx1: r0(med(s.onnx1)), onnx2: r0(med(s.onnx2)) },
    });
  }
  const sizeClass = (size: string) =>
    Number(size.split('×')[0]) >= 700 ? '700–1024 px wide' : '296–500 px wide';
  const bySize = [...new Set(photos.map((p) => sizeClass(p.size)))].map((size) => {
    const ps = photos.filter((p) => sizeClass(p.size) === size);
    const m = (k: 'wasm' | 'onnx1' | 'onnx2') => med(ps.map((p) => p.ssdMs[k]));
    return {
      size,
      photos: ps.length,
      wasm: m('wasm'),
      onnx1: m('onnx1'),
      onnx2: m('onnx2'),
      ratio: r2(m('wasm') / m('onnx1')),
    };
  });
  const all = (k: 'wasm' | 'onnx1' | 'onnx2') => med(photos.map((p) => p.ssdMs[k]));
  const median = {
    wasm: all('wasm'),
    onnx1: all('onnx1'),
    onnx2: all('onnx2'),
    ratio: r2(all('wasm') / all('onnx1')),
  };

  // End to end in one process: the worker's pipeline on every photo file, twice over.
  const renderer = createEmojiRenderer();
  const renderEmoji = (name: string, size: number, angle: number) => renderer.render(name, size, angle);
  const files = fixtures.map((f) => ({ file: f.file, bytes: readFileSync(f.path) }));
  const opts = { emoji: 'poop', format: 'jpeg' as const, minConfidence: 0.5 };
  const faces: Record<string, Record<string, FaceBox[]>> = {};
  const throughput: OnnxBenchResult['throughput'] = [];
  for (const [backend, detector] of [
    ['wasm', wasm],
    ['onnx (1 thread)', onnx1],
    ['onnx (2 threads)', onnx2],
  ] as const) {
    const deps = { detector, renderEmoji };
    await processImage(files[0]!.bytes, opts, deps); // emoji cache warm for everyone alike
    const started = performance.now();
    let n = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const { file, bytes } of files) {
        const out = await processImage(bytes, opts, deps);
        n++;
        if (pass === 0 && backend !== 'onnx (2 threads)') (faces[backend] ??= {})[file] = out.faces;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    throughput.push({ backend, images: n, seconds: r1(seconds), imagesPerSecond: r2(n / seconds) });
  }
  const asPreds = (byFile: Record<string, FaceBox[]>) =>
    Object.fromEntries(
      Object.entries(byFile).map(([f, b]) => [f, b.map((x) => [x.x, x.y, x.width, x.height, x.score])]),
    );
  const wasmScore = evaluate(fixtures, asPreds(faces['wasm']!));
  const onnxScore = evaluate(fixtures, asPreds(faces['onnx (1 thread)']!));

  return {
    machine: {
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores: availableParallelism(),
      node: process.version,
      loadBefore: r2(loadBefore),
      loadAfter: r2(loadavg()[0]!),
      date: new Date().toISOString().slice(0, 10),
    },
    seconds: r0((performance.now() - began) / 1000),
    rounds,
    model: { buildMs: r0(buildMs), bytes: built.bytes.length },
    loadMs: { wasm: r0(wasmLoad), onnx: r0(onnxLoad) },
    photos,
    bySize,
    median,
    throughput,
    scores: {
      wasm: wasmScore,
      onnx: onnxScore,
      equal: JSON.stringify(wasmScore) === JSON.stringify(onnxScore),
    },
  };
}

export function onnxMarkdown(r: OnnxBenchResult): string {
  const m = r.machine;
  const score = (s: Score) =>
    `tp ${s.tp}, fp ${s.fp}, fn ${s.fn} (recall ${r2(s.recall)}, precision ${r2(s.precision)})`;
  return [
    `Measured ${m.date} on ${m.cpu}, ${m.cores} cores, Node ${m.node}; load average ${m.loadBefore} before, ` +
      `${m.loadAfter} after (other work on the machine makes absolute times noisy). ` +
      `Medians of ${r.rounds} runs per photo, backends interleaved photo by photo; detection input is the ` +
      `pipeline's ≤ 1024 px copy. Model build ${r.model.buildMs} ms, ${(r.model.bytes / 1e6).toFixed(1)} MB; ` +
      `detector start (load + warm-up) wasm ${r.loadMs.wasm} ms, onnx ${r.loadMs.onnx} ms. The run took ${r.seconds} s.`,
    '',
    '**SSD MobileNet v1, ms per photo** (onnx 1 thread = per-core speed)',
    '',
    mdTable(
      ['photo size', 'photos', 'wasm', 'onnx 1 thread', 'onnx 2 threads', 'wasm ÷ onnx (1 thread)'],
      [
        ...r.bySize.map((b) => [b.size, b.photos, r0(b.wasm), r0(b.onnx1), r0(b.onnx2), `${b.ratio}×`]),
        [
          '**all**',
          r.photos.length,
          r0(r.median.wasm),
          r0(r.median.onnx1),
          r0(r.median.onnx2),
          `**${r.median.ratio}×**`,
        ],
      ],
    ),
    '',
    '**Per photo, ms**',
    '',
    mdTable(
      ['photo', 'size', 'faces', 'SSD wasm', 'SSD onnx ×1', 'SSD onnx ×2'],
      r.photos.map((p) => [p.file, p.size, p.faces, p.ssdMs.wasm, p.ssdMs.onnx1, p.ssdMs.onnx2]),
    ),
    '',
    '**End to end, one process** (the worker pipeline: decode, detect, paste emoji, JPEG; every photo twice)',
    '',
    mdTable(
      ['backend', 'images', 'seconds', 'images/s'],
      r.throughput.map((t) => [t.backend, t.images, t.seconds, t.imagesPerSecond]),
    ),
    '',
    `**Quality** (\`../shared/tools/evaluate.mjs\` on the fixtures, through the pipeline): wasm ${score(r.scores.wasm)}; ` +
      `onnx ${score(r.scores.onnx)} — ${r.scores.equal ? 'equal' : '**NOT EQUAL**'}.`,
  ].join('\n');
}

const START = '<!-- bench:onnx:start (npm run bench:onnx writes this section) -->';
const END = '<!-- bench:onnx:end -->';

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const rounds = Number(process.env.BENCH_ONNX_ROUNDS ?? 3);
  const result = await benchOnnx(rounds);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const md = onnxMarkdown(result);
    console.log(md);
    const path = join(repoRoot, 'docs/onnx.md');
    await writeGeneratedSection(path, { start: START, end: END }, md);
    console.error('updated docs/onnx.md');
  }
  process.exit(0);
}
