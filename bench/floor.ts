// 1. In-process floor: the worker's pipeline alone (no HTTP, no Redis) on each photo, stage by
// stage, with the detector the worker uses (where the worker runs it), limited to one core's worth of
// threads.
import sharp from 'sharp';
import { createEmojiRenderer } from '../shared/emojiRenderer.js';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { detectorSpec } from '../worker/detectorConfig.js';
import { startDetector } from '../worker/detectorPlacement.js';
import { processImage } from '../worker/pipeline.js';
import type { Photo } from './lib/photos.js';
import { median } from './lib/stats.js';

/** encode = paste the emoji + encode, one libvips pass. */
export const STAGES = ['decode', 'resize', 'detect', 'render', 'encode', 'total'] as const;

export interface FloorRow {
  photo: string;
  megapixels: number;
  faces: number;
  /** Median milliseconds per stage. */
  ms: Record<(typeof STAGES)[number], number>;
}

export interface FloorResult {
  backend: string;
  detector: string;
  runs: number;
  rows: FloorRow[];
  /** Median total over the fixture photos (the 10 MP mosaic aside): the per-image floor. */
  fixtureMedianMs: number;
}

export async function benchFloor(photos: Photo[], runs: number): Promise<FloorResult> {
  const config = loadConfig({});
  const log = createLogger('bench', 'warn');
  // Per core: one ONNX thread and one libvips thread, as each of N workers on N cores gets.
  sharp.concurrency(1);
  const detector = await startDetector(config, { ...detectorSpec(config), onnxThreads: 1 }, log);
  const renderer = createEmojiRenderer();
  const deps = {
    detector,
    renderEmoji: renderer.render.bind(renderer),
  };
  const rows: FloorRow[] = [];
  try {
    for (const photo of photos) {
      const format = photo.name.endsWith('.png') ? ('png' as const) : ('jpeg' as const);
      const options = { emoji: 'poop', format, minConfidence: config.MIN_CONFIDENCE };
      await processImage(photo.bytes, options, deps); // warm-up (caches, emoji raster)
      const samples: Record<string, number[]> = {};
      let faces = 0;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const out = await processImage(photo.bytes, options, deps);
        const timings: Record<string, number> = { ...out.timings, total: performance.now() - t0 };
        for (const s of STAGES) (samples[s] ??= []).push(timings[s] ?? 0);
        faces = out.faces.length;
      }
      const ms = Object.fromEntries(STAGES.map((s) => [s, median(samples[s]!)])) as FloorRow['ms'];
      rows.push({ photo: photo.name, megapixels: (photo.width * photo.height) / 1e6, faces, ms });
      process.stderr.write(`  floor ${photo.name}: ${ms.total.toFixed(0)} ms\n`);
    }
  } finally {
    await detector.close?.();
  }
  const fixtures = rows.filter((r) => r.photo !== 'mosaic_10mp.jpg');
  return {
    backend: detector.backend,
    detector: detector.name,
    runs,
    rows,
    fixtureMedianMs: median(fixtures.map((r) => r.ms.total)),
  };
}
