/**
 * A small ONNX graph builder and a streaming writer, for the models the project generates itself
 * (scripts/make-models.ts). The protobuf messages come from onnx-proto (ONNX 1.10's onnx.proto
 * compiled by protobufjs); only the framing of the big tensors is done here, so that writing a
 * ViT-L/14 (1.2 GB of float32 weights) holds one tensor in memory at a time instead of the model
 * twice over (weights, then protobufjs' single output buffer).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import onnxProto from 'onnx-proto';
import { float32ToFloat16 } from '../../src/embedding/float16.js';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

export type FloatType = 'float32' | 'float16';
/** A dimension: a number, or a name for a symbolic (dynamic) one. */
export type Dim = number | string;

const DataType = onnx.TensorProto.DataType;
const elemType = (t: FloatType | 'int64'): number => (t === 'float32' ? DataType.FLOAT : t === 'float16' ? DataType.FLOAT16 : DataType.INT64);

/** Deterministic pseudo-random numbers (mulberry32 over a 32-bit state) with normal draws. */
export class Random {
  private state: number;
  private spare: number | undefined;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A generator for one named tensor: its values do not depend on the order tensors are made in. */
  static forTensor(seed: number, name: string): Random {
    return new Random(createHash('sha256').update(`${seed}:${name}`).digest().readUInt32LE(0));
  }
  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = Math.max(this.uniform(), 1e-12);
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

interface Initializer {
  name: string;
  dims: number[];
  type: FloatType | 'int64';
  /** Made when the tensor is written, so the model never sits whole in memory. */
  values: () => Float32Array | BigInt64Array;
}

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

function attribute(name: string, value: AttrValue): AttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: A.INT, i: value };
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if ('float' in value) return { name, type: A.FLOAT, f: value.float };
  return { name, type: A.FLOATS, floats: value.floats };
}

function valueInfo(name: string, type: FloatType, shape: Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemType(type),
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Nodes, inputs, outputs and lazily made initializers. `floatType` is the type of every float
 * tensor in the graph: a float16 model computes in float16 end to end, as `optimum` fp16 exports do.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  readonly initializers: Initializer[] = [];
  private counter = 0;

  constructor(readonly floatType: FloatType) {}

  input(name: string, shape: Dim[], type: FloatType = this.floatType): string {
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  output(name: string, shape: Dim[], type: FloatType = this.floatType): void {
    this.outputs.push(valueInfo(name, type, shape));
  }

  /** A float initializer of the graph's float type; `values` is called once, when written. */
  tensor(name: string, dims: number[], values: () => Float32Array): string {
    this.initializers.push({ name, dims, type: this.floatType, values });
    return name;
  }

  /** A small float constant known now (scales, kernels, bin centres). */
  constant(name: string, dims: number[], values: number[]): string {
    const data = Float32Array.from(values);
    return this.tensor(name, dims, () => data);
  }

  int64(name: string, values: number[]): string {
    const data = BigInt64Array.from(values.map(BigInt));
    this.initializers.push({ name, dims: [values.length], type: 'int64', values: () => data });
    return name;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): string {
    const out = name ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({
      opType,
      name: `${out}_node`,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }
}

// Protobuf framing for the fields written by hand: varints and length-delimited field headers.
function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
const fieldHeader = (field: number, length: number): Buffer => Buffer.concat([varint((field << 3) | 2), varint(length)]);

const GRAPH_FIELD_IN_MODEL = 7;
const INITIALIZER_FIELD_IN_GRAPH = 5;
const RAW_DATA_FIELD_IN_TENSOR = 9;

function rawBytes(init: Initializer): Uint8Array {
  const values = init.values();
  const count = init.dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`${init.name}: ${values.length} values for dims ${init.dims.join('×')}`);
  if (init.type === 'float16') {
    const half = float32ToFloat16(values as Float32Array);
    return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
  }
  // ONNX raw_data is little-endian, as typed arrays are on every platform Node runs on.
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

const bytesPerElement = (t: Initializer['type']): number => (t === 'float16' ? 2 : t === 'float32' ? 4 : 8);

export interface ModelMeta {
  producer: string;
  /** Shown by Netron and kept in the file: what the model is and that its weights are random. */
  docString: string;
  metadata: Record<string, string>;
}

/**
 * Writes the model to `path` (through a temporary file and a rename). Layout: the ModelProto
 * without its graph, then the graph field, whose body is the GraphProto without initializers
 * followed by one initializer field per tensor, each made, written and dropped in turn. Protobuf
 * parsers accept fields in any order and concatenate repeated ones, so this is the same model
 * protobufjs would have encoded in one piece. Returns the file's sha256.
 */
export async function writeModel(path: string, graph: GraphBuilder, meta: ModelMeta): Promise<string> {
  const graphHead = onnx.GraphProto.encode({
    name: 'main',
    node: graph.nodes,
    input: graph.inputs,
    output: graph.outputs,
  }).finish();

  const tensorHeads = graph.initializers.map((init) => {
    const head = onnx.TensorProto.encode({ name: init.name, dims: init.dims, dataType: elemType(init.type) }).finish();
    const dataLength = init.dims.reduce((a, b) => a * b, 1) * bytesPerElement(init.type);
    const dataHeader = fieldHeader(RAW_DATA_FIELD_IN_TENSOR, dataLength);
    const tensorLength = head.length + dataHeader.length + dataLength;
    return { head, dataHeader, dataLength, fieldHeader: fieldHeader(INITIALIZER_FIELD_IN_GRAPH, tensorLength) };
  });
  const graphLength = graphHead.length + tensorHeads.reduce((sum, t) => sum + t.fieldHeader.length + t.head.length + t.dataHeader.length + t.dataLength, 0);

  const modelHead = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: meta.producer,
    producerVersion: '1',
    docString: meta.docString,
    metadataProps: Object.entries(meta.metadata).map(([key, value]) => ({ key, value })),
  }).finish();

  const tmp = `${path}.tmp-${process.pid}`;
  const hash = createHash('sha256');
  const out = createWriteStream(tmp);
  const write = async (chunk: Uint8Array) => {
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  };
  try {
    await write(modelHead);
    await write(fieldHeader(GRAPH_FIELD_IN_MODEL, graphLength));
    await write(graphHead);
    for (const [i, init] of graph.initializers.entries()) {
      const t = tensorHeads[i]!;
      const data = rawBytes(init);
      if (data.byteLength !== t.dataLength) throw new Error(`${init.name}: ${data.byteLength} bytes, expected ${t.dataLength}`);
      await write(t.fieldHeader);
      await write(t.head);
      await write(t.dataHeader);
      await write(data);
    }
    out.end();
    await once(out, 'close');
    await rename(tmp, path);
  } catch (error) {
    out.destroy();
    await rm(tmp, { force: true });
    throw error;
  }
  return hash.digest('hex');
}
