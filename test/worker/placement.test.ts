// Where the model runs under INFERENCE_THREAD=auto when onnxruntime-node does not load: in a
// detector thread (on WebAssembly there), and nothing made in this process first and left behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { detectorSpec } from '../../worker/detectorConfig.js';
import { startDetector } from '../../worker/detectorPlacement.js';
import type { DetectorSpec, FaceDetector } from '../../worker/detectors/types.js';

const log = createLogger('placement-test', 'silent');

describe('detector placement under INFERENCE_THREAD=auto', () => {
  it('runs RetinaFace in a thread when onnxruntime-node fails here, making nothing else here', async () => {
    const config = loadConfig({});
    const asked: DetectorSpec['backend'][] = [];
    const failingHere = async (spec: DetectorSpec): Promise<FaceDetector> => {
      asked.push(spec.backend);
      throw new Error('onnxruntime-node: cannot load its shared library (simulated)');
    };
    const detector = await startDetector(
      config,
      { ...detectorSpec(config), onnxThreads: 1 },
      log,
      failingHere,
    );
    try {
      assert.deepEqual(asked, ['onnx'], 'only onnxruntime-node is tried in this process');
      assert.equal(typeof detector.close, 'function', 'a detector thread');
      // The thread itself loads onnxruntime-node here (the simulated failure was this process's).
      assert.equal(detector.backend, 'onnx');
    } finally {
      await detector.close?.();
    }
  });
});
