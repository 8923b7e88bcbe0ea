// Where a worker's model runs (INFERENCE_THREAD): in this process or in a detector thread. The
// worker and the in-process floor benchmark place it by the same rule.
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { DetectorSpec, FaceDetector } from './detectors/types.js';
import { startDetectorThread } from './detectorThread.js';

/** A detector this worker started: a thread's has close(). */
export type OwnDetector = FaceDetector & { close?(): Promise<void> };

/**
 * Where the model runs. A thread for backends whose inference is long synchronous work on the calling
 * thread (WebAssembly, TensorFlow.js: seconds on a Pi, which would starve lock renewal and get the job
 * run twice). onnxruntime-node's run blocks this loop at most ≈ 0.3 s even on a 10 MP photo's 2048 px
 * copy, far inside WORKER_LOCK_MS, so under auto it runs here: no second V8 isolate, no pixel copy per
 * job, a faster start.
 */
export async function startDetector(
  config: Pick<Config, 'INFERENCE_THREAD' | 'LOG_LEVEL'>,
  spec: DetectorSpec,
  log: Logger,
  /** How a detector is made in this process (tests replace it). */
  create?: (spec: DetectorSpec, log: Logger) => Promise<FaceDetector>,
): Promise<OwnDetector> {
  const inThread = () => startDetectorThread({ ...spec, logLevel: config.LOG_LEVEL }, log);
  // Imported only when the model runs here: with the thread, this isolate never loads a runtime.
  const here = async (s: DetectorSpec = spec) =>
    (create ?? (await import('./detectors/index.js')).createDetector)(s, log);
  if (config.INFERENCE_THREAD === true) return inThread();
  if (config.INFERENCE_THREAD === false) return here();
  if (spec.backend === 'onnx') return here();
  // SSD under auto tries tfjs-node first, and TinyFaceDetector never runs on ONNX Runtime.
  if (!(spec.backend === 'auto' && spec.detector === 'retinaface')) return inThread();
  // Only onnxruntime-node is tried here: were the WebAssembly fallback made here too, it would be
  // dropped for a thread with its session still held.
  try {
    return await here({ ...spec, backend: 'onnx' });
  } catch (err) {
    log.warn(
      { err: String(err).split('\n')[0] },
      'onnxruntime-node did not load here: running the model in a thread',
    );
    return inThread();
  }
}
