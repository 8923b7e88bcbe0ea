// The development set (../shared/fixtures/dev: 125 news and crowd photos, 579 faces; read in place,
// never copied), its photos turned by 90°, 180° and 270° (as a camera held sideways or upside down
// writes them, without EXIF), the default detector's predictions on it through the worker's own
// path, and ../shared/tools/evaluate.mjs's scores. Shared by the regression test and the benchmark.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import type { FaceDetector } from '../../worker/detectors/index.js';
import type { Turn } from '../../worker/detectors/views.js';
import { detectionCopy, scaleBoxes } from '../../worker/pipeline.js';
import { evaluateScript, repoRoot, type Box } from './fixtures.js';

export const devDir = resolve(repoRoot, '../shared/fixtures/dev');

export interface DevPhoto {
  file: string;
  path: string;
  /** Upright (EXIF applied) size and boxes. */
  width: number;
  height: number;
  faces: Box[];
  ignore: Box[];
}

export function loadDevSet(): DevPhoto[] {
  const raw = JSON.parse(readFileSync(join(devDir, 'annotations.json'), 'utf8')) as {
    images: {
      file: string;
      width: number;
      height: number;
      faces: Box[];
      faces_upright?: Box[];
      ignore?: Box[];
    }[];
  };
  return raw.images.map((im) => ({
    file: im.file,
    path: join(devDir, im.file),
    // Upright size: a photo with EXIF rotation 5–8 has upright boxes and swapped sides (none has now).
    width: im.faces_upright ? im.height : im.width,
    height: im.faces_upright ? im.width : im.height,
    faces: im.faces_upright ?? im.faces,
    ignore: im.ignore ?? [],
  }));
}

/** A box of a W × H picture, in the picture turned clockwise by `turn`. */
export function turnBox([x, y, w, h]: Box, turn: Turn, W: number, H: number): Box {
  switch (turn) {
    case 0:
      return [x, y, w, h];
    case 90:
      return [H - y - h, x, h, w];
    case 180:
      return [W - x - w, H - y - h, w, h];
    case 270:
      return [y, W - x - w, h, w];
  }
}

/** The photo decoded upright, turned clockwise (EXIF-free pixels, as the worker decodes them). */
export async function turnedPhoto(photo: DevPhoto, turn: Turn) {
  const decoded = await sharp(readFileSync(photo.path))
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (turn === 0) return decoded;
  const { width, height, channels } = decoded.info;
  return sharp(decoded.data, { raw: { width, height, channels } })
    .rotate(turn)
    .raw()
    .toBuffer({ resolveWithObject: true });
}

export interface DevRun {
  /** evaluate.mjs's input: file → [x, y, w, h, score] in the turned photo's pixels. */
  predictions: Record<string, number[][]>;
  /** Per photo: the detector's CPU time (all views and passes: on one core when it has one thread) and wall time. */
  cpuMs: number[];
  wallMs: number[];
}

/**
 * One decoded picture through the worker's path: detection copy (≤ maxSide) → detect → boxes at
 * full size as evaluate.mjs reads them ([x, y, w, h, score]), with the detector's CPU and wall time.
 */
export async function predictFaces(
  detector: FaceDetector,
  full: { data: Buffer; info: { width: number; height: number; channels: number } },
  minConfidence = 0,
  maxSide = detector.maxSide,
): Promise<{ boxes: number[][]; cpuMs: number; wallMs: number }> {
  const copy = await detectionCopy(full as Parameters<typeof detectionCopy>[0], maxSide);
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const found = await detector.detect(copy, minConfidence);
  const wallMs = performance.now() - wall;
  const used = process.cpuUsage(cpu);
  const { width, height } = full.info;
  const boxes = scaleBoxes(found, width / copy.width, height / copy.height, width, height).map((b) => [
    b.x,
    b.y,
    b.width,
    b.height,
    b.score,
  ]);
  return { boxes, cpuMs: (used.user + used.system) / 1000, wallMs };
}

/** Every dev photo, turned by `turn`, through the worker's path: detection copy → detect → full-size boxes. */
export async function runDevSet(
  detector: FaceDetector,
  photos: DevPhoto[],
  turn: Turn,
  minConfidence = 0,
): Promise<DevRun> {
  const run: DevRun = { predictions: {}, cpuMs: [], wallMs: [] };
  for (const photo of photos) {
    const { boxes, cpuMs, wallMs } = await predictFaces(
      detector,
      await turnedPhoto(photo, turn),
      minConfidence,
    );
    run.predictions[photo.file] = boxes;
    run.cpuMs.push(cpuMs);
    run.wallMs.push(wallMs);
  }
  return run;
}

export interface DevScore {
  /** Recall on faces ≥ 32 px at the threshold (evaluate.mjs "recall_large"). */
  recallLarge: number;
  /** AP at IoU 0.5 on faces ≥ 20 px, every score. */
  ap: number;
  precision: number;
  recall: number;
  tp: number;
  fp: number;
  fn: number;
}

/** evaluate.mjs --min-size 20 at IoU 0.5, on the photos turned by `turn`, counting scores ≥ threshold. */
export function scoreDevSet(
  photos: DevPhoto[],
  predictions: Record<string, number[][]>,
  turn: Turn,
  threshold: number,
): DevScore {
  const dir = mkdtempSync(join(tmpdir(), 'turdify-dev-'));
  try {
    const images = photos.map((p) => ({
      file: p.file,
      faces: p.faces.map((b) => turnBox(b, turn, p.width, p.height)),
      ignore: p.ignore.map((b) => turnBox(b, turn, p.width, p.height)),
    }));
    writeFileSync(join(dir, 'gt.json'), JSON.stringify({ images }));
    writeFileSync(join(dir, 'pred.json'), JSON.stringify(predictions));
    const out = execFileSync(
      process.execPath,
      [
        evaluateScript,
        join(dir, 'gt.json'),
        join(dir, 'pred.json'),
        '--min-size',
        '20',
        '--score-threshold',
        String(threshold),
        '--json',
      ],
      { encoding: 'utf8' },
    );
    const s = JSON.parse(out) as Omit<DevScore, 'recallLarge'> & { recall_large: number };
    const { ap, precision, recall, tp, fp, fn } = s;
    return { recallLarge: s.recall_large, ap, precision, recall, tp, fp, fn };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
