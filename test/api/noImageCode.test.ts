// The API handles bytes and JSON only: it loads none of the image or model code (sharp and its
// libvips, ONNX Runtime, TensorFlow.js), which would cost it memory and start time it never uses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/redis.js';
import { recordingSuite } from '../helpers/moduleRecord.js';

const IMAGE_CODE = /node_modules\/(sharp|@img\/|onnxruntime-|@tensorflow\/|@vladmandic\/)/;

describe('the API process', () => {
  const { redis, recorder } = recordingSuite();

  it('loads no image or model code', async () => {
    const env = {
      REDIS_URL: redis().url,
      KEY_PREFIX: redis().prefix,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
    };
    const loaded = await recorder().modulesLoaded('api', 'api', env, 'API listening');
    assert.ok(
      loaded.some((m) => /node_modules\/express\//.test(m)),
      'the record should show express loading',
    );
    assert.deepEqual(
      loaded.filter((m) => IMAGE_CODE.test(m)),
      [],
    );
  });
});
