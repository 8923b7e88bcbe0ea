// A worker that runs only ONNX models (the default RetinaFace) loads no TensorFlow.js and no
// face-api code at all, in any thread: both cost memory and start time it would never use. The
// worker process (dist/, as deployed) is started with a preload that records every module it and
// its threads load; the control run (TinyFaceDetector, which needs TensorFlow.js) shows the record
// catches such loads.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertBuilt } from '../helpers/build.js';
import { track, until } from '../helpers/cluster.js';
import { repoRoot } from '../helpers/fixtures.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// CommonJS loads through Module._load (face-api and tfjs are required this way); ES modules through
// a resolve hook. Each appends what it saw to TURDIFY_LOAD_RECORD.
const PRELOAD = `
const { appendFileSync } = require('node:fs');
const Module = require('node:module');
const file = process.env.TURDIFY_LOAD_RECORD;
const load = Module._load;
Module._load = function (request, parent, isMain) {
  appendFileSync(file, request + '\\n');
  return load.call(this, request, parent, isMain);
};
Module.register(require('node:url').pathToFileURL(process.env.TURDIFY_LOAD_HOOKS));
`;
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.TURDIFY_LOAD_RECORD, r.url + '\\n');
  return r;
}
`;
const TF_CODE = /@tensorflow\/|@vladmandic\/face-api(?!\/package\.json)/;

describe('a worker running only ONNX models', () => {
  let redis: TestRedis;
  let dir: string;
  before(async () => {
    assertBuilt();
    redis = await startTestRedis();
    dir = mkdtempSync(join(tmpdir(), 'turdify-loads-'));
    writeFileSync(join(dir, 'preload.cjs'), PRELOAD);
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
  });
  after(async () => {
    await redis?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a worker, waits until it is ready, stops it; the modules it loaded. */
  const modulesLoaded = async (name: string, env: Record<string, string>) => {
    const record = join(dir, `${name}.txt`);
    const child = spawn(
      process.execPath,
      ['--require', join(dir, 'preload.cjs'), join(repoRoot, 'dist/worker/main.js')],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          REDIS_URL: redis.url,
          KEY_PREFIX: redis.prefix,
          LOG_LEVEL: 'info',
          TURDIFY_LOAD_RECORD: record,
          TURDIFY_LOAD_HOOKS: join(dir, 'hooks.mjs'),
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    const proc = track(name, child);
    try {
      await until('the worker to be ready', async () => proc.output().includes('worker ready'), 60_000);
    } finally {
      proc.signal('SIGTERM');
      await proc.exited(20_000);
    }
    assert.ok(existsSync(record), `nothing recorded:\n${proc.output().slice(-2000)}`);
    return readFileSync(record, 'utf8').split('\n').filter(Boolean);
  };

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
