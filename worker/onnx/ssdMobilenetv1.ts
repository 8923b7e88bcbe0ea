// face-api's SSD MobileNet v1 face detector rebuilt as an ONNX graph from the weights shipped in the
// @vladmandic/face-api package, layer for layer as face-api runs it on TensorFlow.js
// (src/ssdMobilenetv1/*.ts there):
//
//   uint8 image [H, W, 3] → pad bottom/right to a square with zeros → bilinear resize to 512×512
//   (TensorFlow's: no corner alignment, no half-pixel centres) → x / 127.5 − 1
//   → MobileNet v1 (conv 0, then 13 depthwise + pointwise pairs, BatchNorm and ReLU6)
//   → 8 extra pointwise layers → 6 box predictors (on conv 11, conv 13 and the extra maps)
//   → 5118 box encodings decoded against face-api's anchors → sigmoid scores
//   → non-maximum suppression (IoU 0.5, at most 200, score > min_score).
//
// Inputs: `image` uint8 [H, W, 3] (RGB), `min_score` float [1]. Outputs: `boxes` float [N, 4] as
// [ymin, xmin, ymax, xmax] relative to the padded square, `scores` float [N], best first.
// TensorFlow's NHWC layout becomes ONNX's NCHW; weights are transposed, never altered.
import { createRequire } from 'node:module';
import { DataType } from './onnxProto.js';
import { GraphBuilder } from './graph.js';
import { readWeights, type Weight } from './faceApiWeights.js';

/** Bump when the graph changes: a model file built by another version is rebuilt. */
export const CONVERTER_VERSION = '1';
export const INPUT_SIZE = 512;
export const IOU_THRESHOLD = 0.5;
export const MAX_RESULTS = 200;
const OPSET = 13;
// face-api's constant (float32 of 0.001).
const BN_EPSILON = 0.0010000000474974513;

/** [kh, kw, in, out] (TensorFlow) → [out, in, kh, kw] (ONNX). */
function convFilter(w: Weight): { dims: number[]; values: Float32Array } {
  const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.values.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          out[((o * cin + i) * kh + y) * kw + x] = w.values[((y * kw + x) * cin + i) * cout + o]!;
  return { dims: [cout, cin, kh, kw], values: out };
}

/** Depthwise [kh, kw, C, 1] (TensorFlow) → [C, 1, kh, kw] (ONNX, group = C). */
function depthwiseFilter(w: Weight): { dims: number[]; values: Float32Array } {
  const [kh, kw, c] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.values.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < c; i++) out[(i * kh + y) * kw + x] = w.values[(y * kw + x) * c + i]!;
  return { dims: [c, 1, kh, kw], values: out };
}

// TensorFlow "same" padding. Every stride-2 layer here has an even input, where TensorFlow puts the
// one extra row/column at the bottom/right: pads [top, left, bottom, right] = [0, 0, 1, 1].
const samePads = (kernel: number, stride: number) =>
  kernel === 1 ? [0, 0, 0, 0] : stride === 2 ? [0, 0, 1, 1] : [1, 1, 1, 1];

export interface BuiltModel {
  bytes: Uint8Array;
  metadata: Record<string, string>;
}

export function buildSsdMobilenetv1Onnx(): BuiltModel {
  const { weights, sha256 } = readWeights('ssd_mobilenetv1_model');
  const w = (name: string): Weight => {
    const found = weights.get(name);
    if (!found) throw new Error(`face-api weights: ${name} missing`);
    return found;
  };
  const g = new GraphBuilder();
  const zero = g.floats('zero', [], [0]);
  const six = g.floats('six', [], [6]);
  const relu6 = (x: string, name: string) => g.one('Clip', [x, zero, six], {}, `${name}/relu6`);

  // Pointwise layer (face-api's name for conv + offset + ReLU6, any kernel size).
  const pointwise = (x: string, prefix: string, name: string, stride: number) => {
    const f = convFilter(w(`${prefix}/weights`));
    const conv = g.one(
      'Conv',
      [
        x,
        g.floats(`${name}/weights`, f.dims, f.values),
        g.floats(`${name}/offset`, [f.dims[0]!], w(`${prefix}/convolution_bn_offset`).values),
      ],
      {
        kernel_shape: [f.dims[2]!, f.dims[3]!],
        strides: [stride, stride],
        pads: samePads(f.dims[2]!, stride),
      },
      name,
    );
    return relu6(conv, name);
  };
  const depthwise = (x: string, idx: number, stride: number) => {
    const prefix = `MobilenetV1/Conv2d_${idx}_depthwise`;
    const name = `conv_${idx}/depthwise`;
    const f = depthwiseFilter(w(`${prefix}/depthwise_weights`));
    const c = f.dims[0]!;
    const conv = g.one(
      'Conv',
      [x, g.floats(`${name}/weights`, f.dims, f.values)],
      { group: c, kernel_shape: [3, 3], strides: [stride, stride], pads: samePads(3, stride) },
      name,
    );
    const bn = g.one(
      'BatchNormalization',
      [
        conv,
        g.floats(`${name}/gamma`, [c], w(`${prefix}/BatchNorm/gamma`).values),
        g.floats(`${name}/beta`, [c], w(`${prefix}/BatchNorm/beta`).values),
        g.floats(`${name}/mean`, [c], w(`${prefix}/BatchNorm/moving_mean`).values),
        g.floats(`${name}/variance`, [c], w(`${prefix}/BatchNorm/moving_variance`).values),
      ],
      { epsilon: { float: BN_EPSILON } },
      `${name}/batchnorm`,
    );
    return relu6(bn, name);
  };

  // --- preprocessing (face-api NetInput.toBatchTensor(512, false) and the normalisation) ---
  const image = g.input('image', DataType.UINT8, ['height', 'width', 3]);
  const minScore = g.input('min_score', DataType.FLOAT, [1]);
  // Pad and transpose the uint8 pixels (a quarter of the bytes), then convert: same values.
  let x = g.one('Unsqueeze', [image, g.int64s('axis0', [0])]);
  x = g.one('Transpose', [x], { perm: [0, 3, 1, 2] }, 'to_nchw');
  const shape = g.one('Shape', [x]);
  const h = g.one('Gather', [shape, g.int64s('index_h', [2])], { axis: 0 }, 'height');
  const wd = g.one('Gather', [shape, g.int64s('index_w', [3])], { axis: 0 }, 'width');
  const side = g.one('Max', [h, wd], {}, 'side');
  const pads = g.one(
    'Concat',
    [
      g.int64s('pads_begin', [0, 0, 0, 0, 0, 0]),
      g.one('Sub', [side, h], {}, 'pad_bottom'),
      g.one('Sub', [side, wd], {}, 'pad_right'),
    ],
    { axis: 0 },
    'pads',
  );
  x = g.one('Pad', [x, pads], { mode: 'constant' }, 'pad_to_square');
  x = g.one('Cast', [x], { to: DataType.FLOAT });
  x = g.one(
    'Resize',
    [x, '', '', g.int64s('size', [1, 3, INPUT_SIZE, INPUT_SIZE])],
    { mode: 'linear', coordinate_transformation_mode: 'asymmetric' },
    'resize_bilinear',
  );
  x = g.one('Div', [x, g.floats('c127_5', [], [127.5])], {}, 'scale');
  x = g.one('Sub', [x, g.floats('one', [], [1])], {}, 'to_minus1_1');

  // --- MobileNet v1 body ---
  x = pointwise(x, 'MobilenetV1/Conv2d_0_pointwise', 'conv_0', 2);
  let conv11 = '';
  for (let idx = 1; idx <= 13; idx++) {
    x = depthwise(x, idx, [2, 4, 6, 12].includes(idx) ? 2 : 1);
    x = pointwise(x, `MobilenetV1/Conv2d_${idx}_pointwise`, `conv_${idx}/pointwise`, 1);
    if (idx === 11) conv11 = x;
  }
  const conv13 = x;

  // --- extra feature layers ---
  const extra: string[] = [];
  let y = conv13;
  for (let i = 0; i < 8; i++) {
    y = pointwise(y, `Prediction/Conv2d_${i}_pointwise`, `prediction/conv_${i}`, i % 2 === 1 ? 2 : 1);
    extra.push(y);
  }

  // --- box predictors: conv 1×1 + bias, back to NHWC before flattening so encodings follow the anchors ---
  const maps = [conv11, conv13, extra[1]!, extra[3]!, extra[5]!, extra[7]!];
  const encodings: string[] = [];
  const classes: string[] = [];
  maps.forEach((map, i) => {
    const predict = (kind: string, tfName: string, per: number) => {
      const prefix = `Prediction/BoxPredictor_${i}/${tfName}`;
      const f = convFilter(w(`${prefix}/weights`));
      const name = `box_predictor_${i}/${kind}`;
      const conv = g.one(
        'Conv',
        [
          map,
          g.floats(`${name}/weights`, f.dims, f.values),
          g.floats(`${name}/bias`, [f.dims[0]!], w(`${prefix}/biases`).values),
        ],
        { kernel_shape: [1, 1] },
        name,
      );
      const nhwc = g.one('Transpose', [conv], { perm: [0, 2, 3, 1] }, `${name}/nhwc`);
      return g.one('Reshape', [nhwc, g.int64s(`shape_${per}`, [1, -1, per])], {}, `${name}/flat`);
    };
    encodings.push(predict('box_encoding', 'BoxEncodingPredictor', 4));
    classes.push(predict('class', 'ClassPredictor', 3));
  });
  const encoding = g.one('Concat', encodings, { axis: 1 }, 'box_encodings'); // [1, 5118, 4]
  const logits = g.one('Concat', classes, { axis: 1 }, 'class_logits'); // [1, 5118, 3]

  // --- box decoding (face-api outputLayer.ts), anchors = its Output/extra_dim ---
  const anchorsW = w('Output/extra_dim');
  const count = anchorsW.shape[1]!;
  const anchors = g.floats('anchors', [count, 4], anchorsW.values);
  const split4 = (t: string, name: string) =>
    g.op('Split', [t, g.int64s('split_1111', [1, 1, 1, 1])], { axis: -1 }, name, 4);
  const [a0, a1, a2, a3] = split4(anchors, 'anchor') as [string, string, string, string];
  const size0 = g.one('Sub', [a2, a0], {}, 'anchor_height');
  const size1 = g.one('Sub', [a3, a1], {}, 'anchor_width');
  const two = g.floats('two', [], [2]);
  const center0 = g.one('Add', [a0, g.one('Div', [size0, two])], {}, 'anchor_cy');
  const center1 = g.one('Add', [a1, g.one('Div', [size1, two])], {}, 'anchor_cx');
  const flat = g.one('Reshape', [encoding, g.int64s('shape_n4', [-1, 4])], {}, 'encodings_n4');
  const [e0, e1, e2, e3] = split4(flat, 'encoding') as [string, string, string, string];
  const five = g.floats('five', [], [5]);
  const ten = g.floats('ten', [], [10]);
  const half = (e: string, size: string, name: string) =>
    g.one('Div', [g.one('Mul', [g.one('Exp', [g.one('Div', [e, five])]), size]), two], {}, name);
  const centre = (e: string, size: string, c: string, name: string) =>
    g.one('Add', [g.one('Mul', [g.one('Div', [e, ten]), size]), c], {}, name);
  const div0 = half(e2, size0, 'half_height');
  const add0 = centre(e0, size0, center0, 'centre_y');
  const div1 = half(e3, size1, 'half_width');
  const add1 = centre(e1, size1, center1, 'centre_x');
  const decoded = g.one(
    'Concat',
    [
      g.one('Sub', [add0, div0], {}, 'ymin'),
      g.one('Sub', [add1, div1], {}, 'xmin'),
      g.one('Add', [add0, div0], {}, 'ymax'),
      g.one('Add', [add1, div1], {}, 'xmax'),
    ],
    { axis: 1 },
    'decoded_boxes',
  ); // [5118, 4]

  // --- scores: sigmoid of the "face" logit (class 1 of background, face, unused) ---
  const faceLogit = g.one(
    'Slice',
    [logits, g.int64s('slice_start', [1]), g.int64s('slice_end', [2]), g.int64s('slice_axis', [2])],
    {},
    'face_logit',
  );
  const scores = g.one(
    'Reshape',
    [g.one('Sigmoid', [faceLogit]), g.int64s('shape_n', [-1])],
    {},
    'all_scores',
  );

  // --- non-maximum suppression (face-api: score > min_score, IoU > 0.5 suppresses, best first) ---
  const selected = g.one(
    'NonMaxSuppression',
    [
      g.one('Unsqueeze', [decoded, g.int64s('axis_0', [0])], {}, 'nms_boxes'),
      g.one('Reshape', [scores, g.int64s('shape_11n', [1, 1, -1])], {}, 'nms_scores'),
      g.int64s('max_results', [MAX_RESULTS]),
      g.floats('iou_threshold', [1], [IOU_THRESHOLD]),
      minScore,
    ],
    { center_point_box: 0 },
    'nms',
  ); // [N, 3]: batch, class, box
  const index = g.one(
    'Reshape',
    [
      g.one('Gather', [selected, g.int64s('index_box', [2])], { axis: 1 }, 'selected_box'),
      g.int64s('shape_flat', [-1]),
    ],
    {},
    'selected_index',
  );
  g.output('boxes', g.one('Gather', [decoded, index], { axis: 0 }, 'selected_boxes'), DataType.FLOAT, [
    'n',
    4,
  ]);
  g.output('scores', g.one('Gather', [scores, index], { axis: 0 }, 'selected_scores'), DataType.FLOAT, ['n']);

  const faceApiVersion = (
    createRequire(import.meta.url)('@vladmandic/face-api/package.json') as { version: string }
  ).version;
  const metadata = {
    source: 'ssd_mobilenetv1_model (@vladmandic/face-api)',
    source_sha256: sha256,
    face_api_version: faceApiVersion,
    converter_version: CONVERTER_VERSION,
    input_size: String(INPUT_SIZE),
  };
  const bytes = g.encode({
    name: 'ssd_mobilenetv1',
    doc: "face-api's SSD MobileNet v1 face detector, converted by turdify (worker/onnx/ssdMobilenetv1.ts)",
    producer: 'turdify',
    producerVersion: CONVERTER_VERSION,
    opset: OPSET,
    metadata,
  });
  return { bytes, metadata };
}
