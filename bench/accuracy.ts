// Accuracy against speed on the development set (../shared/fixtures/dev, 125 photos, 579 faces):
// every detector configuration tried, through the worker's own path (detection copy → detect →
// full-size boxes), scored by ../shared/tools/evaluate.mjs (--min-size 20, IoU 0.5) at the default
// threshold, with the detector's time per photo on one core (one ONNX thread, one libvips thread;
// CPU time, so other work on the machine inflates it less than wall time). The default
// configuration and two others also look at the photos turned by 90°, 180° and 270°. Raw scores
// are recorded once and calibrated here with each detector's own table, so the same run also
// measures the calibration tables (worker/detectors/calibration.ts).
import { availableParallelism, loadavg } from 'node:os';
import sharp from 'sharp';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { calibrate, type Calibration } from '../worker/detectors/calibration.js';
import { SSD_CALIBRATION, TINY_CALIBRATION } from '../worker/detectors/faceApi.js';
import { createDetector, type DetectorSpec } from '../worker/detectors/index.js';
import { RETINAFACE_CALIBRATION } from '../worker/detectors/retinaface.js';
import type { Turn } from '../worker/detectors/views.js';
import { loadDevSet, runDevSet, scoreDevSet, type DevScore } from '../test/helpers/devset.js';
import { loadFixtures } from '../test/helpers/fixtures.js';
import { detectionCopy } from '../test/onnx/images.js';
import { fitCalibration, labelled } from './lib/calibration.js';
import { benchLargePhotos, type LargePhotoResult } from './largePhotos.js';
import { median } from './lib/stats.js';

export interface AccuracyRow {
  config: string;
  detector: string;
  backend: string;
  turn: Turn;
  score: DevScore;
  cpuMsMedian: number;
  wallMsMedian: number;
}

export interface AccuracyResult {
  threshold: number;
  /** The machine's 1-minute load average before and after (other work inflates the times). */
  load: [number, number];
  rows: AccuracyRow[];
  /** The default configuration's precision and recall at other thresholds (upright photos). */
  curve: { threshold: number; score: DevScore }[];
  /** Per detector: the table in use and the one this run measured. */
  calibration: { detector: string; inUse: Calibration; measured: Calibration }[];
  /** The 13 fixture photos: the default detector's CPU time against face-api's SSD's (medians of 3). */
  fixtures: { file: string; size: string; retinaface: number; ssd: number }[];
  /** The default detector on dev-set mosaics through copies of several sizes (largePhotos.ts). */
  large?: LargePhotoResult;
}

interface Variant {
  config: string;
  spec: DetectorSpec;
  table: Calibration;
  turns: Turn[];
}

const base = { tinyInputSize: 416, onnxThreads: 1, rawScores: true } as const;
const ALL_TURNS: Turn[] = [0, 90, 180, 270];

export const VARIANTS: Variant[] = [
  {
    config: 'RetinaFace v1, ≥ 1024 px, orientation found (default)',
    spec: { ...base, detector: 'retinaface', backend: 'onnx' },
    table: RETINAFACE_CALIBRATION.v1,
    turns: ALL_TURNS,
  },
  {
    config: 'RetinaFace v1, ≥ 1024 px, upright only',
    spec: { ...base, detector: 'retinaface', backend: 'onnx', turns: false },
    table: RETINAFACE_CALIBRATION.v1,
    turns: ALL_TURNS,
  },
  {
    config: 'RetinaFace v1, ≥ 768 px, orientation found',
    spec: { ...base, detector: 'retinaface', backend: 'onnx', minSide: 768 },
    table: RETINAFACE_CALIBRATION.v1,
    turns: [0],
  },
  {
    config: "RetinaFace v1, photo's own size, orientation found",
    spec: { ...base, detector: 'retinaface', backend: 'onnx', minSide: 0 },
    table: RETINAFACE_CALIBRATION.v1,
    turns: [0],
  },
  {
    // The seed comparison's "fast" Turdify (bench/seed.ts FAST_PROFILE).
    config: "RetinaFace v1, photo's own size, upright only (bench's fast setting)",
    spec: { ...base, detector: 'retinaface', backend: 'onnx', minSide: 0, turns: false },
    table: RETINAFACE_CALIBRATION.v1,
    turns: [0],
  },
  {
    config: 'RetinaFace v2, ≥ 1024 px, orientation found',
    spec: { ...base, detector: 'retinaface', backend: 'onnx', variant: 'v2' },
    table: RETINAFACE_CALIBRATION.v2,
    turns: [0],
  },
  {
    config: 'RetinaFace v1 on WebAssembly (default settings)',
    spec: { ...base, detector: 'retinaface', backend: 'wasm' },
    table: RETINAFACE_CALIBRATION.v1,
    turns: [0],
  },
  {
    config: 'SSD MobileNet v1 (face-api), onnx',
    spec: { ...base, detector: 'ssd', backend: 'onnx' },
    table: SSD_CALIBRATION,
    turns: ALL_TURNS,
  },
  {
    config: 'TinyFaceDetector 416 (face-api), wasm',
    spec: { ...base, detector: 'tiny', backend: 'wasm' },
    table: TINY_CALIBRATION,
    turns: [0],
  },
  {
    config: 'TinyFaceDetector 608 (face-api), wasm',
    spec: { ...base, detector: 'tiny', backend: 'wasm', tinyInputSize: 608 },
    table: TINY_CALIBRATION,
    turns: [0],
  },
];

const CURVE = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export async function benchAccuracy(opts: { quick?: boolean } = {}): Promise<AccuracyResult> {
  const threshold = loadConfig({}).MIN_CONFIDENCE;
  const loadBefore = loadavg()[0]!;
  const log = createLogger('bench', 'warn');
  sharp.concurrency(1);
  const photos = loadDevSet();
  const rows: AccuracyRow[] = [];
  let curve: AccuracyResult['curve'] = [];
  const calibration: AccuracyResult['calibration'] = [];
  const variants = opts.quick ? VARIANTS.filter((v) => v.spec.backend !== 'wasm') : VARIANTS;
  for (const v of variants) {
    const detector = await createDetector(v.spec, log);
    for (const turn of opts.quick ? [0 as Turn] : v.turns) {
      const run = await runDevSet(detector, photos, turn);
      const calibrated = Object.fromEntries(
        Object.entries(run.predictions).map(([f, ps]) => [
          f,
          ps.map((p) => [...p.slice(0, 4), calibrate(p[4]!, v.table)]),
        ]),
      );
      const score = scoreDevSet(photos, calibrated, turn, threshold);
      rows.push({
        config: v.config,
        detector: detector.name,
        backend: detector.backend,
        turn,
        score,
        cpuMsMedian: median(run.cpuMs),
        wallMsMedian: median(run.wallMs),
      });
      process.stderr.write(
        `  accuracy ${v.config} turned ${turn}°: ${JSON.stringify(score)} ${median(run.cpuMs).toFixed(1)} ms\n`,
      );
      if (turn !== 0) continue;
      if (v === VARIANTS[0])
        curve = CURVE.map((t) => ({ threshold: t, score: scoreDevSet(photos, calibrated, 0, t) }));
      const name = `${detector.name}`;
      // Each detector's first (native) configuration measures its table.
      if (!calibration.some((c) => c.detector === name)) {
        const images = photos.map((p) => ({ file: p.file, faces: p.faces, ignore: p.ignore }));
        calibration.push({
          detector: name,
          inUse: v.table,
          measured: fitCalibration(labelled(images, run.predictions)),
        });
      }
    }
  }
  const fixtures = await fixtureTimes(log);
  const calibrated = await createDetector({ ...VARIANTS[0]!.spec, rawScores: false }, log);
  const large = await benchLargePhotos(calibrated, photos, threshold, opts);
  const load: [number, number] = [loadBefore, loadavg()[0]!].map((l) => Math.round(l * 100) / 100) as [
    number,
    number,
  ];
  return { threshold, load, rows, curve, calibration, fixtures, large };
}

/** Detection time per fixture photo (CPU ms, one thread), default detector against SSD, interleaved. */
async function fixtureTimes(log: ReturnType<typeof createLogger>): Promise<AccuracyResult['fixtures']> {
  const retinaface = await createDetector(VARIANTS[0]!.spec, log);
  const ssd = await createDetector({ ...base, detector: 'ssd', backend: 'onnx' }, log);
  const out: AccuracyResult['fixtures'] = [];
  for (const f of loadFixtures()) {
    const copy = await detectionCopy(f.path, retinaface.maxSide);
    const small = await detectionCopy(f.path, ssd.maxSide);
    const times = { retinaface: [] as number[], ssd: [] as number[] };
    for (let i = 0; i < 3; i++) {
      times.retinaface.push(await cpuMs(() => retinaface.detect(copy, 0)));
      times.ssd.push(await cpuMs(() => ssd.detect(small, 0)));
    }
    out.push({
      file: f.file,
      size: `${copy.width}×${copy.height}`,
      retinaface: median(times.retinaface),
      ssd: median(times.ssd),
    });
  }
  return out;
}

async function cpuMs(work: () => Promise<unknown>): Promise<number> {
  const started = process.cpuUsage();
  await work();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const only = process.env.ACCURACY_ONLY?.split(',').map(Number);
  if (only) VARIANTS.splice(0, VARIANTS.length, ...VARIANTS.filter((_, i) => only.includes(i)));
  console.log(JSON.stringify(await benchAccuracy({ quick: process.argv.includes('--quick') }), null, 1));
  process.exit(0);
}

const r3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '–');
const r1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');

/** The table's rows: one per configuration and turn. */
export function accuracyRows(r: AccuracyResult): (string | number)[][] {
  return r.rows.map((a) => [
    a.config,
    a.backend,
    a.turn === 0 ? 'upright' : `turned ${a.turn}°`,
    r3(a.score.recallLarge),
    r3(a.score.ap),
    r3(a.score.precision),
    `${a.score.tp}/${a.score.fp}/${a.score.fn}`,
    r1(a.cpuMsMedian),
    r1(a.wallMsMedian),
  ]);
}
export const ACCURACY_HEAD = [
  'configuration',
  'backend',
  'photos',
  'recall ≥ 32 px',
  'AP@0.5 ≥ 20 px',
  'precision',
  'found/false/missed',
  'CPU ms/photo',
  'wall ms/photo',
];

const table = (head: string[], rows: (string | number)[][]) =>
  [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');

/** docs/detection.md's generated section. */
export function accuracyMarkdown(r: AccuracyResult, date: string): string {
  const cores = availableParallelism();
  return [
    `_Generated by \`npm run bench -- --only=accuracy\` on ${date}; scored with \`../shared/tools/evaluate.mjs --min-size 20\` (IoU 0.5) at min_confidence ${r.threshold} (the default). Times: the detector alone (all looks), one ONNX thread, one libvips thread; medians over the 125 photos; ${cores} cores, load average ${r.load[0]} before and ${r.load[1]} after (other work beside it inflates the times)._`,
    '',
    table(ACCURACY_HEAD, accuracyRows(r)),
    '',
    `**The default configuration at other thresholds** (upright photos):`,
    '',
    table(
      ['min_confidence', 'recall ≥ 32 px', 'precision', 'found/false/missed'],
      r.curve.map((c) => [
        c.threshold,
        r3(c.score.recallLarge),
        r3(c.score.precision),
        `${c.score.tp}/${c.score.fp}/${c.score.fn}`,
      ]),
    ),
    '',
    `**Fixture photos: detection time, CPU ms on one thread** (the default against face-api's SSD on onnx, medians of 3; the 13 easy fixtures are larger than the dev photos):`,
    '',
    table(
      ['photo', 'copy', 'RetinaFace (default)', 'SSD', 'ratio'],
      [
        ...r.fixtures.map((f) => [
          f.file,
          f.size,
          r1(f.retinaface),
          r1(f.ssd),
          `${(f.retinaface / f.ssd).toFixed(2)}×`,
        ]),
        [
          '**median**',
          '',
          r1(median(r.fixtures.map((f) => f.retinaface))),
          r1(median(r.fixtures.map((f) => f.ssd))),
          `${(median(r.fixtures.map((f) => f.retinaface)) / median(r.fixtures.map((f) => f.ssd))).toFixed(2)}×`,
        ],
      ],
    ),
    '',
    ...largePhotoLines(r.large),
    `**Calibration** (raw score → score; in use, and as this run measured it):`,
    '',
    table(
      ['detector', 'in use', 'measured now'],
      r.calibration.map((c) => [
        c.detector,
        c.inUse.map(([a, b]) => `${a}→${b}`).join(', '),
        c.measured.map(([a, b]) => `${a}→${b}`).join(', '),
      ]),
    ),
  ].join('\n');
}

/** The large-photo table (DETECT_MAX_SIDE), when the run has it. */
function largePhotoLines(large: LargePhotoResult | undefined): string[] {
  if (!large) return [];
  const rows = large.rows.map((x) => [
    x.maxSide >= large.side ? `${x.maxSide} (no copy)` : x.maxSide,
    r3(x.score.recallLarge),
    r3(x.score.ap),
    r3(x.score.precision),
    `${x.score.tp}/${x.score.fp}/${x.score.fn}`,
    Math.round(x.detectMs),
  ]);
  return [
    `**Large photos: the detection copy's longest side** (\`DETECT_MAX_SIDE\`, default 2048). ${large.mosaics} mosaics of 35 dev photos each (7 × 5 cells of 512 px, ${large.megapixels.toFixed(1)} MP, ${large.faces} faces: crowds whose faces are as small as in the photos themselves), the default detector, one ONNX thread (\`bench/largePhotos.ts\`):`,
    '',
    table(
      [
        'DETECT_MAX_SIDE',
        'recall ≥ 32 px',
        'AP@0.5',
        'precision',
        'found/false/missed',
        'detect ms (median)',
      ],
      rows,
    ),
    '',
  ];
}
