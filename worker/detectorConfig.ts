// Configuration → the detector to build (a DetectorSpec, posted as it is to the detector thread).
import { availableParallelism } from 'node:os';
import type { Config } from '../shared/config.js';
import { onnxThreads } from './onnx/runtime.js';
import type { DetectorSpec } from './detectors/types.js';

/** ONNX_THREADS, or the machine's cores shared out between the worker processes npm start runs here. */
export function threadsFor(config: Pick<Config, 'WORKERS' | 'ONNX_THREADS'>): number {
  const localWorkers = config.WORKERS === 'auto' ? availableParallelism() : Math.max(1, config.WORKERS);
  return onnxThreads({ threads: config.ONNX_THREADS, localWorkers });
}

export function detectorSpec(config: Config): DetectorSpec {
  return {
    detector: config.DETECTOR,
    backend: config.TF_BACKEND,
    tinyInputSize: config.TINY_INPUT_SIZE,
    onnxThreads: threadsFor(config),
    onnxMemoryArena: config.ONNX_MEMORY_ARENA,
    variant: config.RETINAFACE_WEIGHTS,
    turns: config.FIND_ORIENTATION,
    ...(config.DETECT_MIN_SIDE !== undefined ? { minSide: config.DETECT_MIN_SIDE } : {}),
    ...(config.DETECT_MAX_SIDE !== undefined ? { maxSide: config.DETECT_MAX_SIDE } : {}),
  };
}
