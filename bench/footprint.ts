// 8. What each detector costs a worker process at start and in memory: one fresh process per
// detector (docs/detection.md, and the worker thread of INFERENCE_THREAD), which starts it, then
// runs it once on each fixture photo's detection copy. RSS from /proc (Linux).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../shared/logger.js';
import type { DetectorSpec, FaceDetector } from '../worker/detectors/index.js';
import { loadFixtures } from '../test/helpers/fixtures.js';
import { detectionCopy } from '../test/onnx/images.js';
import { rss } from './lib/cluster.js';

export interface FootprintRow {
  detector: string;
  startMs: number;
  /** Resident memory of the whole process, MB: before the detector, once started, after the photos. */
  beforeMB: number;
  startedMB: number;
  afterPhotosMB: number;
  photos: number;
}

const log = createLogger('bench-footprint', 'silent');
const spec = { tinyInputSize: 416, onnxThreads: 1 };
// Imported inside each variant, so "before" is the process without any detector code loaded.
const inProcess = async (opts: Pick<DetectorSpec, 'detector' | 'backend'>) =>
  (await import('../worker/detectors/index.js')).createDetector({ ...spec, ...opts }, log);

/** The detectors compared, by the name the table shows. */
const VARIANTS: Record<string, (() => Promise<FaceDetector>) | null> = {
  'none (node + sharp)': null,
  'RetinaFace on onnx (default: in process)': () => inProcess({ detector: 'retinaface', backend: 'onnx' }),
  'RetinaFace on wasm (onnxruntime-web)': () => inProcess({ detector: 'retinaface', backend: 'wasm' }),
  'SSD on onnx': () => inProcess({ detector: 'ssd', backend: 'onnx' }),
  'SSD on wasm (TensorFlow.js)': () => inProcess({ detector: 'ssd', backend: 'wasm' }),
  'RetinaFace on onnx in a worker thread (INFERENCE_THREAD=true)': async () =>
    (await import('../worker/detectorThread.js')).startDetectorThread(
      { ...spec, detector: 'retinaface', backend: 'onnx', logLevel: 'silent' },
      log,
    ),
};

async function child(name: string): Promise<FootprintRow> {
  const images = await Promise.all(loadFixtures().map((f) => detectionCopy(f.path)));
  const beforeMB = rss(process.pid).now;
  const make = VARIANTS[name];
  const t0 = performance.now();
  const detector = make ? await make() : undefined;
  const startMs = performance.now() - t0;
  const startedMB = rss(process.pid).now;
  for (const img of images) await detector?.detect(img, 0.5);
  return {
    detector: name,
    startMs,
    beforeMB,
    startedMB,
    afterPhotosMB: rss(process.pid).now,
    photos: images.length,
  };
}

export async function benchFootprint(): Promise<FootprintRow[]> {
  const rows: FootprintRow[] = [];
  for (const name of Object.keys(VARIANTS)) {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', name],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => proc.once('exit', r));
    if (code !== 0) throw new Error(`footprint of ${name}: exit ${String(code)}`);
    rows.push(JSON.parse(out.trim().split('\n').at(-1)!) as FootprintRow);
    process.stderr.write(`  footprint ${name}: ${rows.at(-1)!.afterPhotosMB.toFixed(0)} MB\n`);
  }
  return rows;
}

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(process.argv[3]!)));
  process.exit(0);
}
