// Accuracy against speed: each detector configuration on the fixture photos, scored with
// ../shared/tools/evaluate.mjs (through the test helper that splits FDDB's looser IoU), with its
// median detection time. The default must stay the accurate one.
import { createEmojiRenderer } from '../shared/emojiRenderer.js';
import { createLogger } from '../shared/logger.js';
import { evaluate, loadFixtures, type Score } from '../test/helpers/fixtures.js';
import { createFaceApiDetector, type FaceApiDetectorOptions } from '../worker/detector.js';
import { processImage } from '../worker/pipeline.js';
import type { Photo } from './lib/photos.js';
import { median } from './lib/stats.js';

export interface AccuracyRow {
  config: string;
  backend: string;
  score: Score;
  detectMsMedian: number;
}

type Variant = { config: string; options: Omit<FaceApiDetectorOptions, 'log'>; detectMaxSide: number };

export const VARIANTS: Variant[] = [
  {
    config: 'SSD + Tiny check (default)',
    options: { kind: 'ssd', tinyInputSize: 416, tfBackend: 'auto' },
    detectMaxSide: 1024,
  },
  {
    config: 'SSD + Tiny check, wasm',
    options: { kind: 'ssd', tinyInputSize: 416, tfBackend: 'wasm' },
    detectMaxSide: 1024,
  },
  {
    config: 'SSD alone',
    options: { kind: 'ssd', verify: false, tinyInputSize: 416, tfBackend: 'auto' },
    detectMaxSide: 1024,
  },
  {
    config: 'SSD + check, copy ≤ 512 px',
    options: { kind: 'ssd', tinyInputSize: 416, tfBackend: 'auto' },
    detectMaxSide: 512,
  },
  {
    config: 'Tiny 416',
    options: { kind: 'tiny', tinyInputSize: 416, tfBackend: 'auto' },
    detectMaxSide: 1024,
  },
  {
    config: 'Tiny 608',
    options: { kind: 'tiny', tinyInputSize: 608, tfBackend: 'auto' },
    detectMaxSide: 1024,
  },
];

export async function benchAccuracy(photos: Photo[], runs: number): Promise<AccuracyRow[]> {
  const fixtures = loadFixtures();
  const renderer = createEmojiRenderer();
  const rows: AccuracyRow[] = [];
  for (const v of VARIANTS) {
    const detector = await createFaceApiDetector({ ...v.options, log: createLogger('bench', 'warn') });
    const deps = { detector, renderEmoji: renderer.render.bind(renderer), detectMaxSide: v.detectMaxSide };
    const predictions: Record<string, number[][]> = {};
    const detectMs: number[] = [];
    for (const f of fixtures) {
      const bytes = photos.find((p) => p.name === f.file)!.bytes;
      const options = { emoji: 'poop', format: 'jpeg' as const, minConfidence: 0.5 };
      for (let i = 0; i < runs; i++) {
        const out = await processImage(bytes, options, deps);
        detectMs.push(out.timings.detect ?? NaN);
        predictions[f.file] = out.faces.map((b) => [b.x, b.y, b.width, b.height, b.score]);
      }
    }
    rows.push({
      config: v.config,
      backend: detector.backend,
      score: evaluate(fixtures, predictions),
      detectMsMedian: median(detectMs),
    });
    process.stderr.write(`  accuracy ${v.config}: ${JSON.stringify(rows.at(-1)!.score)}\n`);
  }
  return rows;
}
