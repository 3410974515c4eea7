/**
 * A minimal ONNX model encoder: just enough of the protobuf wire format (ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto) to build the small compute graphs the
 * clustering kernels run on onnxruntime. The graphs are built at run time from their shapes, so
 * this lives in src/ rather than in a model-generation script, and it needs no protobuf library:
 * the field numbers below are onnx.proto3's, and none of them has changed since IR version 3.
 */

export type ElemType = 'float32' | 'int32' | 'int64';
const ELEM_TYPE: Record<ElemType, number> = { float32: 1, int32: 6, int64: 7 };

/** A dimension is a fixed size or a symbolic name (a batch axis whose size changes per run). */
export type Dim = number | string;

export interface ValueSpec {
  name: string;
  type: ElemType;
  dims: Dim[];
}

export interface InitializerSpec {
  name: string;
  dims: number[];
  /** float32 weights, or int64 operands such as a ReduceSum's axes. */
  data: Float32Array | BigInt64Array;
}

export type AttrValue = { i: number } | { f: number } | { ints: number[] };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

export interface GraphSpec {
  name: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
}

/** The opset the kernels are written against (ReduceSum takes axes as an input from 13 on). */
export const OPSET = 17;
const IR_VERSION = 8;

function varint(value: number | bigint): number[] {
  // int64 fields carry negatives (axis = -1) as ten-byte two's complement varints.
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

class Message {
  private readonly chunks: Uint8Array[] = [];

  int(field: number, value: number): this {
    this.chunks.push(Uint8Array.from([...varint((field << 3) | 0), ...varint(value)]));
    return this;
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.chunks.push(Uint8Array.from([...varint((field << 3) | 5)]), b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.chunks.push(Uint8Array.from([...varint((field << 3) | 2), ...varint(value.length)]), value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Message): this {
    return this.bytes(field, value.encode());
  }

  encode(): Uint8Array {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function valueInfo(v: ValueSpec): Message {
  const shape = new Message();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  const tensorType = new Message().int(1, ELEM_TYPE[v.type]).message(2, shape);
  return new Message().string(1, v.name).message(2, new Message().message(1, tensorType));
}

function attribute(name: string, value: AttrValue): Message {
  const m = new Message().string(1, name);
  if ('i' in value) return m.int(3, value.i).int(20, 2);
  if ('f' in value) return m.float(2, value.f).int(20, 1);
  for (const x of value.ints) m.int(8, x);
  return m.int(20, 7);
}

function tensor(init: InitializerSpec): Message {
  const m = new Message();
  for (const d of init.dims) m.int(1, d);
  m.int(2, init.data instanceof Float32Array ? ELEM_TYPE.float32 : ELEM_TYPE.int64).string(8, init.name);
  // raw_data is little-endian; every platform onnxruntime-node ships for is little-endian too.
  return m.bytes(9, new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength));
}

/** Serialise a graph to ONNX model bytes, ready for InferenceSession.create. */
export function encodeModel(spec: GraphSpec): Uint8Array {
  const graph = new Message();
  spec.nodes.forEach((n, index) => {
    const node = new Message();
    for (const i of n.inputs) node.string(1, i);
    for (const o of n.outputs) node.string(2, o);
    node.string(3, `${n.op}_${index}`).string(4, n.op);
    for (const [name, value] of Object.entries(n.attrs ?? {})) node.message(5, attribute(name, value));
    graph.message(1, node);
  });
  graph.string(2, spec.name);
  for (const init of spec.initializers ?? []) graph.message(5, tensor(init));
  for (const v of spec.inputs) graph.message(11, valueInfo(v));
  for (const v of spec.outputs) graph.message(12, valueInfo(v));
  return new Message()
    .int(1, IR_VERSION)
    .string(2, 'biomedica')
    .message(7, graph)
    .message(8, new Message().string(1, '').int(2, OPSET))
    .encode();
}
