// `npm run bench`: every benchmark, a table on stdout, and docs/performance.md rewritten with it.
// `npm run bench -- --quick` runs fewer repetitions (a smoke test of the benchmarks themselves).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accuracyMarkdown, benchAccuracy } from './accuracy.js';
import { benchColdStart } from './coldstart.js';
import { benchE2e, benchOverhead } from './e2e.js';
import { benchFloor } from './floor.js';
import { benchIngest, LEAN_API_NODE_OPTIONS } from './ingest.js';
import { benchOnnx, onnxMarkdown } from './onnx.js';
import { benchFootprint } from './footprint.js';
import { benchArenas, benchMemory } from './memory.js';
import { machine } from './lib/machine.js';
import { devPhotos, fixturePhotos, jpegOfSize, repoRoot, tenMegapixelPhoto } from './lib/photos.js';
import { benchSeed } from './seed.js';
import { benchFarWorker } from './farWorker.js';
import { benchRedisCapacity } from './redisCapacity.js';
import { writeGeneratedSection } from './lib/docs.js';
import { loadavg } from 'node:os';
import {
  DETECTION_MARKERS,
  PERFORMANCE_MARKERS,
  README_MARKERS,
  renderReport,
  renderSummary,
} from './report.js';

const quick = process.argv.includes('--quick');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const want = (name: string) => !only || only.includes(name);

const m = machine();
const started = Date.now();
const loadBefore = loadavg()[0]!;
process.stderr.write(`bench on ${m.cores} cores (${m.cpu}), node ${m.node}${quick ? ', quick' : ''}\n`);
const photos = await fixturePhotos();
const mosaic = await tenMegapixelPhoto(photos);
const mix = photos; // the end-to-end mix: every fixture photo, in turn
const workerCounts = [...new Set([1, Math.max(1, Math.ceil(m.cores / 2)), m.cores])];

const floor = want('floor') ? await benchFloor([...photos, mosaic], quick ? 3 : 20) : undefined;
// The default backend at 1 … cores workers, and WebAssembly at cores workers for comparison.
const e2eRuns = [...workerCounts.map((workers) => ({ workers })), { workers: m.cores, backend: 'wasm' }];
const e2e = want('e2e') ? await benchE2e(mix, e2eRuns, quick ? 2 * mix.length : 8 * mix.length) : undefined;
const overhead = want('e2e') ? await benchOverhead(mix, quick ? mix.length : 3 * mix.length) : undefined;
const photo100k = await jpegOfSize(
  photos.find((p) => p.name.startsWith('wider_val'))!,
  100,
);
const ingest = want('ingest') ? await benchIngest(photo100k, quick ? 3 : 10) : undefined;
const ingestLean = want('ingest')
  ? await benchIngest(photo100k, quick ? 3 : 10, LEAN_API_NODE_OPTIONS)
  : undefined;
// The worker's bound holds over the mix with the 10 MP photo in it (1 job in 15).
const memory = want('memory') ? await benchMemory([...mix, mosaic], quick ? 40 : 200) : undefined;
const arenas = want('memory') ? await benchArenas(mosaic, quick ? 6 : 30) : undefined;
const footprint = want('footprint') ? await benchFootprint() : undefined;
const accuracy = want('accuracy') ? await benchAccuracy({ quick }) : undefined;
const onnxResult = want('onnx') && !quick ? await benchOnnx(3) : undefined;
const cold = want('coldstart') ? await benchColdStart(photos[0]!, quick ? 2 : 5) : undefined;
// The development set: 125 news and crowd photos, the mix the seed comparison is judged on too.
const dev = want('e2edev') || want('seed') ? await devPhotos() : [];
const devMix = quick ? dev.slice(0, 25) : dev;
const devFloor = want('e2edev') ? await benchFloor(devMix, quick ? 1 : 5) : undefined;
const devE2e = want('e2edev')
  ? await benchE2e(devMix, [{ workers: 1 }, { workers: 2 }], quick ? devMix.length : 2 * devMix.length)
  : undefined;
const seed = want('seed')
  ? await benchSeed(
      [
        { name: 'dev set', photos: devMix },
        { name: 'fixtures', photos, passes: 2 },
      ],
      quick ? 1 : 3,
    )
  : undefined;
// One worker far from Redis: RTT 0 (the same namespaces, no delay), 2 ms and 10 ms.
const farWorker = want('farworker')
  ? await benchFarWorker([0, 2, 10], quick ? 1 : 3, quick ? photos.length : 3 * photos.length)
  : undefined;
const redis = want('redis') ? await benchRedisCapacity(photos, quick) : undefined;

const results = {
  machine: m,
  quick,
  run: { minutes: (Date.now() - started) / 60_000, loadBefore, loadAfter: loadavg()[0]! },
  floor,
  e2e,
  overhead,
  ingest,
  ingestLean,
  memory,
  arenas,
  footprint,
  cold,
  devFloor,
  devE2e,
  seed,
  farWorker,
  redis,
  accuracy,
  onnxMarkdown: onnxResult && onnxMarkdown(onnxResult),
  onnxRatio: onnxResult?.median.ratio,
};
// Kept (gitignored) before anything is rendered: a long run's figures survive a failure below.
mkdirSync(join(repoRoot, '.turdify'), { recursive: true });
writeFileSync(join(repoRoot, '.turdify/bench-last.json'), JSON.stringify(results, null, 1));
const report = renderReport(results);
process.stdout.write(report.table);
if (accuracy && !quick) {
  const path = join(repoRoot, 'docs/detection.md');
  await writeGeneratedSection(path, DETECTION_MARKERS, accuracyMarkdown(accuracy, m.date.slice(0, 10)));
  process.stderr.write('updated docs/detection.md\n');
}
if (!quick && !only) {
  const path = join(repoRoot, 'docs/performance.md');
  await writeGeneratedSection(path, PERFORMANCE_MARKERS, report.markdown);
  await writeGeneratedSection(join(repoRoot, 'README.md'), README_MARKERS, renderSummary(results));
  process.stderr.write('updated docs/performance.md and README.md\n');
}
