// The one place that reads DETECTOR and TF_BACKEND: which face detector a worker runs, on which
// backend. Adding a detector is one file beside this one and one case below.
import type { Logger } from '../../shared/logger.js';
import { onnxThreads, type OrtBackend } from '../onnx/runtime.js';
import { createFaceApiDetector } from './faceApi.js';
import { createRetinaFace } from './retinaface.js';
import type { DetectorSpec, FaceDetector } from './types.js';

export type { Detection, DetectorSpec, FaceDetector, RgbImage } from './types.js';

export async function createDetector(spec: DetectorSpec, log: Logger): Promise<FaceDetector> {
  const threads = spec.onnxThreads ?? onnxThreads({ localWorkers: 1 });
  switch (spec.detector) {
    case 'retinaface': {
      const options = {
        variant: spec.variant ?? 'v1',
        turns: spec.turns ?? true,
        threads,
        memoryArena: spec.onnxMemoryArena,
        minSide: spec.minSide,
        maxSide: spec.maxSide,
        rawScores: spec.rawScores,
      };
      if (spec.backend === 'tfjs-node')
        throw new Error(
          'TF_BACKEND=tfjs-node runs face-api models only: use DETECTOR=ssd or tiny, or TF_BACKEND=onnx',
        );
      const backends: OrtBackend[] = spec.backend === 'auto' ? ['onnx', 'wasm'] : [spec.backend];
      for (const [i, backend] of backends.entries()) {
        try {
          return await createRetinaFace({ ...options, backend }, log);
        } catch (err) {
          if (i === backends.length - 1) throw err;
          log.warn(
            { backend, err: String(err).split('\n')[0] },
            'onnxruntime-node did not load, using WebAssembly',
          );
        }
      }
      throw new Error('unreachable');
    }
    case 'ssd':
    case 'tiny':
      return createFaceApiDetector(
        {
          kind: spec.detector,
          tinyInputSize: spec.tinyInputSize,
          backend: spec.backend,
          threads,
          memoryArena: spec.onnxMemoryArena,
          rawScores: spec.rawScores,
        },
        log,
      );
  }
}
