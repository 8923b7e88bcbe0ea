// ONNX Runtime, native or WebAssembly: onnxruntime-node's bundled CPU library where it loads (x64 and
// arm64 Linux, macOS, Windows), else onnxruntime-web's WebAssembly build (any CPU, e.g. 32-bit Pis),
// from its own package files, never a URL. Both expose the same InferenceSession/Tensor API.
import { availableParallelism } from 'node:os';
import type * as OrtNode from 'onnxruntime-node';

export type OrtModule = Pick<typeof OrtNode, 'InferenceSession' | 'Tensor'>;
export type OrtSession = OrtNode.InferenceSession;
export type OrtBackend = 'onnx' | 'wasm';

/**
 * Intra-op threads for one worker process: the machine's cores shared out between the worker
 * processes on it, at least 1. `threads` (ONNX_THREADS) overrides; set it where the process cannot see
 * its real share (a container with a CPU limit, several replicas on one node).
 */
export function onnxThreads(opts: { threads?: number; localWorkers: number; cores?: number }): number {
  if (opts.threads && opts.threads > 0) return opts.threads;
  const cores = opts.cores ?? availableParallelism();
  return Math.max(1, Math.floor(cores / Math.max(1, opts.localWorkers)));
}

export async function loadOrt(backend: OrtBackend): Promise<OrtModule> {
  if (backend === 'onnx') return (await import('onnxruntime-node')) as OrtModule;
  const web = await import('onnxruntime-web');
  // Threads need cross-origin isolation in browsers and extra workers here: one thread, scaled by
  // processes like every other backend.
  web.env.wasm.numThreads = 1;
  return web as unknown as OrtModule;
}

/** CPU-provider settings every onnxruntime-node session here shares (RetinaFace's and face-api's SSD). */
export function cpuSessionOptions(
  threads: number,
  memoryArena = true,
): OrtNode.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // With the arena, a run's activations come from memory the last run used; without it every
    // tensor is a fresh malloc, and the large ones fresh pages the kernel must fault in and zero
    // (a 2048 px look: 6 copies of 36 MB in the graph's prefix alone). Measured 2026-12-04 (floor,
    // one thread): 10 MP photo 658 → 427 ms, fixture photos 18–35 % faster, dev-set photos 5–6 %.
    // The cost is residency: the largest look's working memory stays (worker over 200 jobs: peak
    // 530 → 556 MB, at the end 366 → 528 MB). memoryArena false gives it back after each run.
    enableCpuMemArena: memoryArena,
    // Threads sleep between runs instead of spinning: a worker never burns a core it is not using.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

export async function openSession(
  ort: OrtModule,
  backend: OrtBackend,
  model: Uint8Array,
  threads: number,
  opts: { memoryArena?: boolean } = {},
): Promise<OrtSession> {
  if (backend === 'wasm') return ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  return ort.InferenceSession.create(model, {
    ...cpuSessionOptions(threads, opts.memoryArena),
    // Every photo has its own size: planning memory per input shape cost more than it saved (≈ 2× on
    // the first run of each new shape).
    enableMemPattern: false,
  });
}
