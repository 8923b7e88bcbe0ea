// Turns benchmark results into a plain-text table (stdout) and the generated part of
// docs/performance.md (between the bench markers; the prose around it is kept).
import { ACCURACY_HEAD, accuracyRows, type AccuracyResult } from './accuracy.js';
import type { ColdStartResult } from './coldstart.js';
import type { E2eRow, OverheadResult } from './e2e.js';
import { STAGES, type FloorResult } from './floor.js';
import type { IngestResult } from './ingest.js';
import type { Machine } from './lib/machine.js';
import { round, sum } from './lib/stats.js';
import type { MemoryResult } from './memory.js';
import { mdTable } from './lib/docs.js';

export interface Results {
  machine: Machine;
  quick: boolean;
  floor?: FloorResult;
  e2e?: E2eRow[];
  overhead?: OverheadResult;
  ingest?: IngestResult;
  memory?: MemoryResult;
  cold?: ColdStartResult;
  accuracy?: AccuracyResult;
  /** bench/onnx.ts's own section (wasm vs onnx), already markdown. */
  onnxMarkdown?: string;
}

/** Where docs/performance.md's generated part sits. */
export const PERFORMANCE_MARKERS = { start: '<!-- bench:start -->', end: '<!-- bench:end -->' };
/** Where docs/detection.md's generated part sits. */
export const DETECTION_MARKERS = {
  start: '<!-- bench:accuracy:start (npm run bench -- --only=accuracy writes this section) -->',
  end: '<!-- bench:accuracy:end -->',
};

function textTable(head: string[], rows: (string | number)[][]): string {
  const all = [head, ...rows].map((r) => r.map(String));
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((cell, c) => cell.padStart(widths[c]!)).join('  ')).join('\n');
}

/** Images per second one worker process manages on the fixture mix, from the in-process floor. */
export function floorRate(floor: FloorResult): number {
  const fixtures = floor.rows.filter((r) => r.photo !== 'mosaic_10mp.jpg');
  return (1000 * fixtures.length) / sum(fixtures.map((r) => r.ms.total));
}

export function renderReport(r: Results): { table: string; markdown: string } {
  const sections: { title: string; head: string[]; rows: (string | number)[][]; note?: string }[] = [];
  const m = r.machine;
  const backend = r.floor ? `${r.floor.backend}, ${r.floor.detector}` : 'n/a';
  sections.push({
    title: 'Machine',
    head: ['cores', 'cpu', 'memory', 'node', 'platform', 'backend, model', 'date'],
    rows: [[m.cores, m.cpu, `${m.memoryGiB} GiB`, m.node, m.platform, backend, m.date.slice(0, 16)]],
  });
  if (r.floor) {
    sections.push({
      title: `1. In-process floor (median of ${r.floor.runs} runs, ms)`,
      head: ['photo', 'MP', 'faces', ...STAGES],
      rows: r.floor.rows.map((row) => [
        row.photo.length > 34 ? `${row.photo.slice(0, 31)}...` : row.photo,
        round(row.megapixels, 2),
        row.faces,
        ...STAGES.map((s) => round(row.ms[s], 1)),
      ]),
      note: `One worker process on the fixture mix: ${round(floorRate(r.floor), 2)} images/s.`,
    });
  }
  if (r.e2e) {
    const rate = r.floor ? floorRate(r.floor) : NaN;
    sections.push({
      title: '2. End to end (Redis + API + N worker processes, fixture mix, saturated)',
      head: [
        'backend',
        'workers',
        'jobs',
        'images/s',
        'vs N × floor',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'failed',
      ],
      rows: r.e2e.map((e) => [
        e.backend,
        e.workers,
        e.jobs,
        round(e.imagesPerSecond, 2),
        // The floor is measured on the default backend only.
        e.backend === r.floor?.backend
          ? round(e.imagesPerSecond / (Math.min(e.workers, m.cores) * rate), 2)
          : '',
        Math.round(e.latencyMs.p50),
        Math.round(e.latencyMs.p95),
        Math.round(e.latencyMs.p99),
        e.failed,
      ]),
      note: '"vs N × floor": throughput ÷ (min(N, cores) × the single-process in-process rate).',
    });
  }
  if (r.overhead) {
    const o = r.overhead;
    sections.push({
      title: '2b. Service overhead (one worker, one job at a time)',
      head: [
        'jobs',
        'processing p50 ms',
        'overhead p50 ms',
        'overhead p95 ms',
        'overhead ÷ processing (p50)',
      ],
      rows: [
        [
          o.jobs,
          Math.round(o.processingMsP50),
          round(o.overheadMs.p50, 1),
          round(o.overheadMs.p95, 1),
          `${round(100 * o.overheadRatioP50, 1)} %`,
        ],
      ],
      note: 'Overhead = (client submit → client sees the end) − the pipeline stages the worker timed.',
    });
  }
  if (r.ingest) {
    const i = r.ingest;
    sections.push({
      title: `3. Ingest (POST /jobs, ${i.photoKB} KB photo, no workers, ${i.connections} connections)`,
      head: ['seconds', 'accepted', 'accepted/s', 'p50 ms', 'p99 ms', 'errors', 'API peak RSS MB'],
      rows: [
        [
          i.seconds,
          i.accepted,
          Math.round(i.acceptedPerSecond),
          i.latencyMs.p50,
          i.latencyMs.p99,
          i.non202,
          Math.round(i.apiRssPeakMB),
        ],
      ],
    });
  }
  if (r.memory) {
    const x = r.memory;
    sections.push({
      title: `4. Memory over ${x.jobs} jobs (one worker)`,
      head: [
        'API peak MB',
        'worker peak MB',
        'worker after 20 jobs MB',
        'worker at end MB',
        'tensors after 20',
        'tensors at end',
      ],
      rows: [
        [
          Math.round(x.apiPeakMB),
          Math.round(x.workerPeakMB),
          Math.round(x.workerAfterWarmupMB),
          Math.round(x.workerAtEndMB),
          x.tensorsAfterWarmup,
          x.tensorsAtEnd,
        ],
      ],
    });
  }
  if (r.cold) {
    sections.push({
      title: '5. Cold start (worker process spawn → first job completed)',
      head: ['runs', 'median ms', 'samples ms'],
      rows: [
        [r.cold.runs, Math.round(r.cold.medianMs), r.cold.samplesMs.map((s) => Math.round(s)).join(', ')],
      ],
    });
  }
  if (r.accuracy) {
    sections.push({
      title: `6. Accuracy against speed (dev set: 125 photos, 521 faces ≥ 20 px; min_confidence ${r.accuracy.threshold}; docs/detection.md)`,
      head: ACCURACY_HEAD,
      rows: accuracyRows(r.accuracy),
    });
  }
  const table = sections
    .map((s) => `\n${s.title}\n${textTable(s.head, s.rows)}${s.note ? `\n${s.note}` : ''}\n`)
    .join('');
  const markdown = [
    `_Generated by \`npm run bench\` on ${m.date.slice(0, 10)}${r.quick ? ' (quick)' : ''}._`,
    ...sections.map((s) => `\n### ${s.title}\n\n${mdTable(s.head, s.rows)}${s.note ? `\n\n${s.note}` : ''}`),
    ...(r.onnxMarkdown
      ? ['\n### 7. WebAssembly against ONNX Runtime (bench/onnx.ts)\n', r.onnxMarkdown]
      : []),
  ].join('\n');
  return { table, markdown };
}
