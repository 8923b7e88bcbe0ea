// The part of the ONNX file format (a protobuf message, ModelProto) this project writes, as a
// protobufjs schema. Field numbers are the ONNX format's own (onnx/onnx.proto, IR version 7); only
// the fields used here are declared: protobuf readers skip nothing they need, since every message
// written is complete for an inference graph.
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; FLOATS = 6; INTS = 7; }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  optional AttributeType type = 20;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string domain = 7;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message TensorProto {
  enum DataType { UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT32 = 6; INT64 = 7; }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}
`;

export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7 } as const;
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface TensorMsg {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}
export interface AttributeMsg {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}
export interface NodeMsg {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeMsg[];
}
export interface ValueInfoMsg {
  name: string;
  type: {
    tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } };
  };
}
export interface ModelMsg {
  ir_version: number;
  producer_name: string;
  producer_version: string;
  doc_string: string;
  opset_import: { domain: string; version: number }[];
  metadata_props: { key: string; value: string }[];
  graph: {
    name: string;
    doc_string: string;
    node: NodeMsg[];
    initializer: TensorMsg[];
    input: ValueInfoMsg[];
    output: ValueInfoMsg[];
  };
}

let modelType: protobuf.Type | undefined;
const ModelProto = (): protobuf.Type =>
  (modelType ??= protobuf.parse(SCHEMA, { keepCase: true }).root.lookupType('onnx.ModelProto'));

/** Serialises a model; the bytes depend only on the message (field order is the schema's). */
export function encodeModel(model: ModelMsg): Uint8Array {
  const type = ModelProto();
  const err = type.verify(model);
  if (err) throw new Error(`invalid ONNX model message: ${err}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Reads a model file's metadata (key → value). */
export function readMetadata(bytes: Uint8Array): Record<string, string> {
  const model = ModelProto().decode(bytes) as unknown as Partial<ModelMsg>;
  return Object.fromEntries((model.metadata_props ?? []).map((e) => [e.key, e.value]));
}

/**
 * Edits a model made elsewhere, leaving every byte it does not change as it was. The schema above
 * covers only what this project writes, so decoding a foreign model with it and encoding it again
 * would drop whatever it does not declare; instead fields are copied verbatim, and only these are
 * changed: graph inputs and outputs re-declared, nodes and initializers put first (a prefix that
 * feeds the original graph), metadata added. `graph.value_info` (optional shape hints, which would
 * contradict new input sizes) is dropped.
 */
export function editModel(
  bytes: Uint8Array,
  edit: {
    /** Each declared input or output → its new declaration, or undefined to keep it as it is. */
    input?: (v: ValueInfoMsg) => ValueInfoMsg | undefined;
    output?: (v: ValueInfoMsg) => ValueInfoMsg | undefined;
    /** Inputs declared after the existing ones. */
    extraInputs?: ValueInfoMsg[];
    prependNodes?: NodeMsg[];
    prependInitializers?: TensorMsg[];
    metadata?: Record<string, string>;
  },
): Uint8Array {
  const root = ModelProto().root;
  const encode = (type: string, message: object) => {
    const t = root.lookupType(type);
    return t.encode(t.fromObject(message)).finish();
  };
  const valueInfo = root.lookupType('onnx.ValueInfoProto');
  const recode = (content: Uint8Array, fn?: (v: ValueInfoMsg) => ValueInfoMsg | undefined) => {
    const replaced = fn?.(valueInfo.toObject(valueInfo.decode(content), { longs: Number }) as ValueInfoMsg);
    return replaced ? encode('onnx.ValueInfoProto', replaced) : content;
  };
  // Field numbers of onnx.proto: ModelProto.graph 7, metadata_props 14; GraphProto.node 1,
  // initializer 5, input 11, output 12, value_info 13.
  const graph = (content: Uint8Array) =>
    Buffer.concat([
      ...(edit.prependNodes ?? []).map((n) => field(1, encode('onnx.NodeProto', n))),
      ...(edit.prependInitializers ?? []).map((t) => field(5, encode('onnx.TensorProto', t))),
      spliceFields(content, (f, c) =>
        f === 11 ? recode(c, edit.input) : f === 12 ? recode(c, edit.output) : f === 13 ? null : c,
      ),
      ...(edit.extraInputs ?? []).map((v) => field(11, encode('onnx.ValueInfoProto', v))),
    ]);
  const meta = Object.entries(edit.metadata ?? {}).map(([key, value]) =>
    field(14, encode('onnx.StringStringEntryProto', { key, value })),
  );
  return Buffer.concat([spliceFields(bytes, (f, c) => (f === 7 ? graph(c) : c)), ...meta]);
}

/** One length-delimited field, as it appears inside its message. */
const field = (number: number, content: Uint8Array): Uint8Array =>
  protobuf.Writer.create()
    .uint32((number << 3) | 2)
    .bytes(content)
    .finish();

/**
 * Walks one protobuf message's fields; length-delimited ones pass through `edit` (return the new
 * content, or null to drop the field), everything else is copied as it is.
 */
function spliceFields(
  bytes: Uint8Array,
  edit: (field: number, content: Uint8Array) => Uint8Array | null,
): Uint8Array {
  const reader = protobuf.Reader.create(bytes);
  const parts: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const wire = tag & 7;
    if (wire !== 2) {
      reader.skipType(wire);
      parts.push(bytes.subarray(start, reader.pos));
      continue;
    }
    const length = reader.uint32();
    const content = bytes.subarray(reader.pos, reader.pos + length);
    reader.pos += length;
    const replaced = edit(tag >>> 3, content);
    if (replaced === content) parts.push(bytes.subarray(start, reader.pos));
    else if (replaced) parts.push(field(tag >>> 3, replaced));
  }
  return Buffer.concat(parts);
}
