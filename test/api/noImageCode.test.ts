// The API handles bytes and JSON only: it loads none of the image or model code (sharp and its
// libvips, ONNX Runtime, TensorFlow.js), which would cost it memory and start time it never uses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertBuilt } from '../helpers/build.js';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis.js';
import { moduleRecorder, type ModuleRecorder } from '../helpers/moduleRecord.js';

const IMAGE_CODE = /node_modules\/(sharp|@img\/|onnxruntime-|@tensorflow\/|@vladmandic\/)/;

describe('the API process', () => {
  let redis: TestRedis;
  let recorder: ModuleRecorder;
  before(async () => {
    assertBuilt();
    redis = await startTestRedis();
    recorder = moduleRecorder();
  });
  after(async () => {
    await redis?.close();
    recorder?.close();
  });

  it('loads no image or model code', async () => {
    const env = {
      REDIS_URL: redis.url,
      KEY_PREFIX: redis.prefix,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
    };
    const loaded = await recorder.modulesLoaded('api', 'api', env, 'API listening');
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
