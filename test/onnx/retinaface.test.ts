// RetinaFace's model file and its two runtimes: built deterministically from the pinned weight
// files (a changed file is refused), any input size accepted, and onnxruntime-node and
// onnxruntime-web's WebAssembly finding the same faces and landmarks on every fixture photo.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createLogger } from '../../shared/logger.js';
import {
  createDetector,
  type Detection,
  type FaceDetector,
  type RgbImage,
} from '../../worker/detectors/index.js';
import { ensureModel, retinafaceModel } from '../../worker/onnx/modelFile.js';
import { readMetadata } from '../../worker/onnx/onnxProto.js';
import {
  buildRetinaFaceOnnx,
  readRetinaFaceWeights,
  RETINAFACE_WEIGHTS,
  retinafacePackageDir,
} from '../../worker/onnx/retinafaceModel.js';
import { loadOrt, openSession } from '../../worker/onnx/runtime.js';
import { iou, loadFixtures, type Box } from '../helpers/fixtures.js';
import { detectionCopy } from './images.js';

const log = createLogger('retinaface-test', 'silent');
const asBox = (d: Detection): Box => [d.x, d.y, d.width, d.height];

describe('RetinaFace model file', () => {
  it('is built deterministically from the pinned weights, and says so', () => {
    const a = buildRetinaFaceOnnx('v1');
    const b = buildRetinaFaceOnnx('v1');
    assert.ok(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), 'two builds differ');
    const meta = readMetadata(a.bytes);
    assert.equal(meta.source_sha256, RETINAFACE_WEIGHTS.v1.sha256);
    assert.match(meta.source ?? '', /mnet\.25_v1\.onnx \(retinaface@0\.0\.6\)/);
    const onDisk = ensureModel(retinafaceModel('v1'));
    assert.ok(
      Buffer.from(onDisk.bytes).equals(Buffer.from(a.bytes)),
      'models/retinaface_mnet025_v1.onnx is stale',
    );
  });

  it('refuses a weight file whose sha256 is not the pinned one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'turdify-rf-'));
    try {
      const file = join(dir, RETINAFACE_WEIGHTS.v2.file);
      copyFileSync(join(retinafacePackageDir(), RETINAFACE_WEIGHTS.v2.file), file);
      assert.ok(readRetinaFaceWeights('v2', dir).length > 2e6);
      writeFileSync(file, Buffer.concat([Buffer.from('x'), readRetinaFaceWeights('v2')]));
      assert.throws(() => readRetinaFaceWeights('v2', dir), /sha256 [0-9a-f]{64}, expected cd1acf48/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes pictures of any size, padding them to the network’s stride itself', async () => {
    const ort = await loadOrt('onnx');
    const session = await openSession(ort, 'onnx', buildRetinaFaceOnnx('v1').bytes, 1);
    for (const [w, h, seenW, seenH] of [
      [47, 33, 47, 33],
      [640, 480, 640, 480],
      [300, 200, 600, 400],
    ] as const) {
      const out = await session.run({
        image: new ort.Tensor('uint8', new Uint8Array(w * h * 3).fill(128), [h, w, 3]),
        size: new ort.Tensor('int64', BigInt64Array.of(BigInt(seenH), BigInt(seenW)), [2]),
      });
      const dims = out['face_rpn_cls_prob_reshape_stride8']!.dims;
      assert.deepEqual(
        dims,
        [1, 4, Math.ceil(seenH / 32) * 4, Math.ceil(seenW / 32) * 4],
        `${w}×${h} seen at ${seenW}×${seenH}`,
      );
    }
  });
});

describe('RetinaFace on onnxruntime-node and on WebAssembly', () => {
  const fixtures = loadFixtures();
  let native: FaceDetector;
  let wasm: FaceDetector;
  const images = new Map<string, RgbImage>();
  before(async () => {
    const spec = { detector: 'retinaface' as const, tinyInputSize: 416, onnxThreads: 1 };
    native = await createDetector({ ...spec, backend: 'onnx' }, log);
    wasm = await createDetector({ ...spec, backend: 'wasm' }, log);
    for (const f of fixtures) images.set(f.file, await detectionCopy(f.path, native.maxSide));
  });

  it('report their backends and the weights’ licence', () => {
    assert.deepEqual([native.backend, wasm.backend], ['onnx', 'wasm']);
    assert.equal(native.name, 'retinaface_mnet025_v1');
    assert.match(native.weights.licence, /non-commercial/);
    assert.equal(native.weights.package, 'retinaface@0.0.6');
  });

  it('find the same faces and landmarks in every fixture photo', async () => {
    const problems: string[] = [];
    for (const f of fixtures) {
      const img = images.get(f.file)!;
      const a = await native.detect(img, 0.2);
      const b = await wasm.detect(img, 0.2);
      if (a.length !== b.length) problems.push(`${f.file}: ${a.length} faces natively, ${b.length} on wasm`);
      for (const face of a) {
        const twin = b.find((d) => iou(asBox(d), asBox(face)) >= 0.99);
        if (!twin) {
          problems.push(`${f.file}: no wasm twin for ${JSON.stringify(asBox(face))}`);
          continue;
        }
        if (Math.abs(twin.score - face.score) > 1e-3)
          problems.push(`${f.file}: scores ${face.score} / ${twin.score}`);
        for (const k of Object.keys(face.landmarks!) as (keyof NonNullable<Detection['landmarks']>)[]) {
          const [p, q] = [face.landmarks![k], twin.landmarks![k]];
          if (Math.hypot(p[0] - q[0], p[1] - q[1]) > 0.5) problems.push(`${f.file}: ${k} ${p} / ${q}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('find the same faces with ONNX Runtime’s memory arena off (ONNX_MEMORY_ARENA=false)', async () => {
    const spec = {
      detector: 'retinaface' as const,
      tinyInputSize: 416,
      onnxThreads: 1,
      backend: 'onnx' as const,
    };
    const lean = await createDetector({ ...spec, onnxMemoryArena: false }, log);
    for (const f of fixtures) {
      const img = images.get(f.file)!;
      // The arena changes where tensors live, never what is computed: the same faces to the bit.
      assert.deepEqual(await lean.detect(img, 0.2), await native.detect(img, 0.2), f.file);
    }
  });

  it('put the landmarks of the annotated faces where a face has them', async () => {
    let checked = 0;
    for (const f of fixtures) {
      if (f.negative) continue;
      const found = await native.detect(images.get(f.file)!, 0.3);
      for (const face of found.filter((d) => f.faces.some((g) => iou(asBox(d), g) >= 0.3))) {
        const m = face.landmarks!;
        const inside = ([x, y]: [number, number]) =>
          x >= face.x && x <= face.x + face.width && y >= face.y && y <= face.y + face.height;
        assert.ok(Object.values(m).every(inside), `${f.file}: a landmark outside its box`);
        // Upright faces: eyes side by side above the nose, the nose above the mouth.
        assert.ok(m.left_eye[0] < m.right_eye[0], `${f.file}: eyes swapped`);
        assert.ok(Math.max(m.left_eye[1], m.right_eye[1]) < m.nose[1], `${f.file}: nose above the eyes`);
        assert.ok(m.nose[1] < Math.min(m.mouth_left[1], m.mouth_right[1]), `${f.file}: mouth above the nose`);
        checked++;
      }
    }
    assert.ok(checked >= 30, `only ${checked} faces checked`);
  });
});
