// A worker that runs only ONNX models (the default RetinaFace) loads no TensorFlow.js and no
// face-api code at all, in any thread: both cost memory and start time it would never use. The
// control run (TinyFaceDetector, which needs TensorFlow.js) shows the record catches such loads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordingSuite } from '../helpers/moduleRecord.js';

const TF_CODE = /@tensorflow\/|@vladmandic\/face-api(?!\/package\.json)/;

describe('a worker running only ONNX models', () => {
  const { redis, recorder } = recordingSuite();

  const modulesLoaded = (name: string, env: Record<string, string>) =>
    recorder().modulesLoaded(
      'worker',
      name,
      { REDIS_URL: redis().url, KEY_PREFIX: redis().prefix, ...env },
      'worker ready',
    );

  it('loads no TensorFlow.js or face-api code, in the process or its detector thread', async () => {
    for (const thread of ['auto', 'true', 'false']) {
      const loaded = await modulesLoaded(`onnx-thread-${thread}`, { INFERENCE_THREAD: thread });
      assert.ok(
        loaded.some((m) => /onnxruntime-node/.test(m)),
        'the record should show ONNX Runtime loading',
      );
      assert.deepEqual(
        loaded.filter((m) => TF_CODE.test(m)),
        [],
        `INFERENCE_THREAD=${thread}`,
      );
    }
  });

  it('(control) the record does catch TensorFlow.js where a face-api model needs it', async () => {
    const loaded = await modulesLoaded('tiny', { DETECTOR: 'tiny', TF_BACKEND: 'wasm' });
    assert.ok(
      loaded.some((m) => TF_CODE.test(m)),
      'TensorFlow.js should show in the record',
    );
  });
});
