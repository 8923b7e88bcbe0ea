// The shared fixture photos (../shared/fixtures/faces, read-only, never copied into the repo)
// and the project's scorer (../shared/tools/evaluate.mjs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const fixturesDir = resolve(repoRoot, '../shared/fixtures/faces');
export const evaluateScript = resolve(repoRoot, '../shared/tools/evaluate.mjs');

export type Box = [number, number, number, number];

export interface Fixture {
  file: string;
  path: string;
  /** Ground truth in displayed orientation (EXIF applied), which is what the service reports. */
  faces: Box[];
  ignore: Box[];
  dataset: string;
  /** IoU needed for a match: FDDB boxes are ellipse-derived and taller than detectors' boxes. */
  iou: number;
  negative: boolean;
}

interface RawImage {
  file: string;
  faces?: Box[];
  faces_upright?: Box[];
  ignore?: Box[];
  dataset?: string;
}

export function loadFixtures(): Fixture[] {
  const raw = JSON.parse(readFileSync(join(fixturesDir, 'annotations.json'), 'utf8')) as {
    images: RawImage[];
  };
  return raw.images.map((im) => ({
    file: im.file,
    path: join(fixturesDir, im.file),
    faces: im.faces_upright ?? im.faces ?? [],
    ignore: im.ignore ?? [],
    dataset: im.dataset ?? '',
    iou: im.file.startsWith('fddb_') ? 0.3 : 0.5,
    negative: im.file.startsWith('neg_'),
  }));
}

export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

export interface Score {
  tp: number;
  fp: number;
  fn: number;
  recall: number;
  precision: number;
}

/**
 * Scores predictions with ../shared/tools/evaluate.mjs, per IoU threshold group (0.5 for most
 * photos, 0.3 for FDDB), and sums the counts.
 */
export function evaluate(fixtures: Fixture[], predictions: Record<string, number[][]>): Score {
  const dir = mkdtempSync(join(tmpdir(), 'turdify-eval-'));
  try {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const threshold of [...new Set(fixtures.map((f) => f.iou))]) {
      const group = fixtures.filter((f) => f.iou === threshold);
      const annotations = { images: group.map((f) => ({ file: f.file, faces: f.faces, ignore: f.ignore })) };
      const preds = Object.fromEntries(group.map((f) => [f.file, predictions[f.file] ?? []]));
      writeFileSync(join(dir, 'gt.json'), JSON.stringify(annotations));
      writeFileSync(join(dir, 'pred.json'), JSON.stringify(preds));
      const out = execFileSync(
        process.execPath,
        [evaluateScript, join(dir, 'gt.json'), join(dir, 'pred.json'), '--iou', String(threshold), '--json'],
        { encoding: 'utf8' },
      );
      const s = JSON.parse(out) as { tp: number; fp: number; fn: number };
      tp += s.tp;
      fp += s.fp;
      fn += s.fn;
    }
    return { tp, fp, fn, recall: tp / (tp + fn), precision: tp + fp ? tp / (tp + fp) : 1 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
