// A small builder for ONNX graphs: named nodes and initializers in the order they are added, so the
// same calls always produce the same bytes.
import {
  AttributeType,
  DataType,
  encodeModel,
  type AttributeMsg,
  type NodeMsg,
  type TensorMsg,
  type ValueInfoMsg,
} from './onnxProto.js';

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };
export type Dim = number | string;

function attribute(name: string, value: AttrValue): AttributeMsg {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(value, 'utf8') };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use {float} for ${value}`);
    return { name, type: AttributeType.INT, i: value };
  }
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.FLOATS, floats: value.floats };
}

const bytesOf = (a: Float32Array | BigInt64Array | Uint8Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export class GraphBuilder {
  readonly nodes: NodeMsg[] = [];
  readonly initializers: TensorMsg[] = [];
  readonly inputs: ValueInfoMsg[] = [];
  readonly outputs: ValueInfoMsg[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  private fresh(base: string): string {
    let name = base;
    while (this.names.has(name)) name = `${base}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  /** A float32 constant. */
  floats(name: string, dims: number[], values: Float32Array | number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`${name}: ${data.length} values for dims ${dims.join('×')}`);
    const n = this.fresh(name);
    this.initializers.push({ name: n, dims, data_type: DataType.FLOAT, raw_data: bytesOf(data) });
    return n;
  }

  /** An int64 constant (shapes, axes, pads). */
  int64s(name: string, values: number[], dims: number[] = [values.length]): string {
    const n = this.fresh(name);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name: n, dims, data_type: DataType.INT64, raw_data: bytesOf(data) });
    return n;
  }

  /** Adds a node; returns its output names (one per `outputs`, or a single generated one). */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    name = opType,
    outputs = 1,
  ): string[] {
    const nodeName = this.fresh(name);
    const out = Array.from({ length: outputs }, (_, i) => (outputs === 1 ? nodeName : `${nodeName}:${i}`));
    for (const o of out) this.names.add(o);
    this.nodes.push({
      name: nodeName,
      op_type: opType,
      input: inputs,
      output: out,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** `op` for the usual single output. */
  one(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name = opType): string {
    return this.op(opType, inputs, attrs, name)[0]!;
  }

  input(name: string, elemType: number, dims: Dim[]): string {
    this.names.add(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Names `value` as a graph output (through an Identity node so the output keeps its own name). */
  output(name: string, value: string, elemType: number, dims: Dim[]): void {
    this.names.add(name);
    this.nodes.push({
      name: `${name}_out`,
      op_type: 'Identity',
      input: [value],
      output: [name],
      attribute: [],
    });
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  encode(meta: {
    name: string;
    doc: string;
    producer: string;
    producerVersion: string;
    opset: number;
    metadata: Record<string, string>;
  }): Uint8Array {
    return encodeModel({
      ir_version: 7,
      producer_name: meta.producer,
      producer_version: meta.producerVersion,
      doc_string: meta.doc,
      opset_import: [{ domain: '', version: meta.opset }],
      metadata_props: Object.entries(meta.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: meta.name,
        doc_string: meta.doc,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }
}

function valueInfo(name: string, elemType: number, dims: Dim[]): ValueInfoMsg {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}
