/**
 * A ViT with DINOv2's input/output contract as the Hugging Face ONNX exports have it, and seeded
 * random weights. For contract tests and speed measurement only: its features mean nothing.
 *
 *   pixel_values       [batch_size, 3, 224, 224]
 *   last_hidden_state  [batch_size, 1 + registers + 256, dim]   (after the final LayerNorm)
 *   pooler_output      [batch_size, dim]                         = last_hidden_state[:, 0, :]
 *
 * The same computation as transformers' Dinov2Model / Dinov2WithRegistersModel: a stride-14 Conv
 * patch embedding; CLS prepended and position embeddings added to CLS + patches; registers (if any)
 * inserted after CLS without position embeddings; pre-LN blocks with separate query/key/value
 * projections, softmax attention, LayerScale on both branches, a GELU (erf) MLP of 4×dim; a final
 * LayerNorm (eps 1e-6). The position embedding is for the 224-px grid (16×16 patches) only: the
 * HF exports interpolate it in the graph for other sizes, this model takes 224×224 input and says
 * so in its input shape, which the embedder reads.
 */
import { GraphBuilder, Random, writeModel, type FloatType } from './onnx-graph.js';

export interface VitShape {
  dim: number;
  layers: number;
  heads: number;
}

/** DINOv2's shapes (S/14, B/14, L/14) and tiny ones that keep tests fast. */
export const VIT_SHAPES = {
  s14: { dim: 384, layers: 12, heads: 6 },
  b14: { dim: 768, layers: 12, heads: 12 },
  l14: { dim: 1024, layers: 24, heads: 16 },
  tiny: { dim: 32, layers: 2, heads: 2 },
} as const satisfies Record<string, VitShape>;
export type VitShapeName = keyof typeof VIT_SHAPES;

export interface VitOptions {
  shape: VitShapeName | VitShape;
  /** 0, or 4 as in dinov2-with-registers. */
  registers: number;
  /** Type of weights and computation. */
  dtype: FloatType;
  /** Type of pixel_values and the outputs; defaults to dtype (optimum's fp16 exports are float16 end to end). */
  ioType?: FloatType;
  seed: number;
  /**
   * pooler_output: 'cls' as transformers exports it (token 0 of last_hidden_state), 'mean' (the
   * mean of all tokens, as some exports define it: the embedder must notice and take token 0), or
   * 'none' (an export with last_hidden_state only).
   */
  pooler?: 'cls' | 'mean' | 'none';
  /** A fixed batch size in the input shape (some exports have one); default dynamic. */
  batch?: number;
}

export const PATCH = 14;
export const IMAGE_SIZE = 224;
const GRID = IMAGE_SIZE / PATCH;
const PATCHES = GRID * GRID;

function resolveShape(shape: VitOptions['shape']): VitShape {
  return typeof shape === 'string' ? VIT_SHAPES[shape] : shape;
}

export function buildVit(options: VitOptions): GraphBuilder {
  const { dim, layers, heads } = resolveShape(options.shape);
  if (dim % heads !== 0) throw new Error(`dim ${dim} is not a multiple of heads ${heads}`);
  const headDim = dim / heads;
  const hidden = 4 * dim;
  const registers = options.registers;
  const tokens = 1 + registers + PATCHES;
  const ioType = options.ioType ?? options.dtype;
  const g = new GraphBuilder(options.dtype);
  const seed = options.seed;

  const normal = (name: string, dims: number[], std: number, mean = 0) =>
    g.tensor(name, dims, () => {
      const random = Random.forTensor(seed, name);
      const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
      for (let i = 0; i < out.length; i++) out[i] = mean + std * random.normal();
      return out;
    });
  const scalar = (name: string, value: number) => g.constant(name, [], [value]);

  const batchDim = options.batch ?? 'batch_size';
  let x = g.input('pixel_values', [batchDim, 3, IMAGE_SIZE, IMAGE_SIZE], ioType);
  if (ioType !== options.dtype) x = g.op('Cast', [x], { to: options.dtype === 'float16' ? 10 : 1 });

  // Patch embedding → [B, 256, dim].
  let p = g.op('Conv', [x, normal('embeddings.patch.weight', [dim, 3, PATCH, PATCH], 0.02), normal('embeddings.patch.bias', [dim], 0.02)], {
    kernel_shape: [PATCH, PATCH],
    strides: [PATCH, PATCH],
  });
  p = g.op('Reshape', [p, g.int64('shape.patches', [0, dim, -1])]);
  p = g.op('Transpose', [p], { perm: [0, 2, 1] });

  // Tokens that are the same for every image, expanded to the batch.
  const batch = g.op('Shape', [x], { start: 0, end: 1 });
  const expand = (name: string, count: number) =>
    g.op('Expand', [normal(name, [1, count, dim], 0.02), g.op('Concat', [batch, g.int64(`shape.${name}`, [count, dim])], { axis: 0 })]);
  let h = g.op('Concat', [expand('embeddings.cls_token', 1), p], { axis: 1 });
  h = g.op('Add', [h, normal('embeddings.position_embeddings', [1, 1 + PATCHES, dim], 0.02)]);
  if (registers > 0) {
    const axis1 = g.int64('axes.1', [1]);
    const cls = g.op('Slice', [h, g.int64('at.0', [0]), g.int64('at.1', [1]), axis1]);
    const patches = g.op('Slice', [h, 'at.1', g.int64('at.end', [Number.MAX_SAFE_INTEGER]), axis1]);
    h = g.op('Concat', [cls, expand('embeddings.register_tokens', registers), patches], { axis: 1 });
  }

  const layerNorm = (input: string, prefix: string) =>
    g.op('LayerNormalization', [input, normal(`${prefix}.weight`, [dim], 0.02, 1), normal(`${prefix}.bias`, [dim], 0.02)], { axis: -1, epsilon: { float: 1e-6 } });
  const linear = (input: string, prefix: string, inDim: number, outDim: number) =>
    g.op('Add', [g.op('MatMul', [input, normal(`${prefix}.weight`, [inDim, outDim], 0.02)]), normal(`${prefix}.bias`, [outDim], 0.02)]);
  // DINOv2 initialises LayerScale at 1e-5; trained models hold values near 0.1–1, used here so the
  // blocks do not vanish into the residual stream.
  const layerScale = (input: string, name: string) => g.op('Mul', [input, normal(name, [dim], 0.02, 0.1)]);

  const headsShape = g.int64('shape.heads', [0, -1, heads, headDim]);
  const mergeShape = g.int64('shape.merge', [0, -1, dim]);
  const attentionScale = scalar('attention.scale', 1 / Math.sqrt(headDim));
  const sqrt2 = scalar('gelu.sqrt2', Math.SQRT2);
  const one = scalar('gelu.one', 1);
  const half = scalar('gelu.half', 0.5);

  for (let l = 0; l < layers; l++) {
    const prefix = `encoder.layer.${l}`;
    const n1 = layerNorm(h, `${prefix}.norm1`);
    const split = (name: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [linear(n1, `${prefix}.attention.${name}`, dim, dim), headsShape])], { perm });
    const q = split('query', [0, 2, 1, 3]);
    const kT = split('key', [0, 2, 3, 1]);
    const v = split('value', [0, 2, 1, 3]);
    const scores = g.op('Mul', [g.op('MatMul', [q, kT]), attentionScale]);
    const attended = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [attended], { perm: [0, 2, 1, 3] }), mergeShape]);
    h = g.op('Add', [h, layerScale(linear(merged, `${prefix}.attention.output`, dim, dim), `${prefix}.layer_scale1`)]);

    const n2 = layerNorm(h, `${prefix}.norm2`);
    const up = linear(n2, `${prefix}.mlp.fc1`, dim, hidden);
    const gelu = g.op('Mul', [g.op('Mul', [up, g.op('Add', [g.op('Erf', [g.op('Div', [up, sqrt2])]), one])]), half]);
    h = g.op('Add', [h, layerScale(linear(gelu, `${prefix}.mlp.fc2`, hidden, dim), `${prefix}.layer_scale2`)]);
  }

  const last = layerNorm(h, 'layernorm');
  const pooler = options.pooler ?? 'cls';
  const cast = (t: string) => (ioType === options.dtype ? t : g.op('Cast', [t], { to: ioType === 'float16' ? 10 : 1 }));
  g.op('Identity', [cast(last)], {}, 'last_hidden_state');
  g.output('last_hidden_state', [batchDim, tokens, dim], ioType);
  if (pooler !== 'none') {
    const pooled =
      pooler === 'mean'
        ? g.op('ReduceMean', [last], { axes: [1], keepdims: 0 })
        : g.op('Reshape', [g.op('Gather', [last, g.int64('token.cls', [0])], { axis: 1 }), g.int64('shape.pooled', [0, dim])]);
    g.op('Identity', [cast(pooled)], {}, 'pooler_output');
    g.output('pooler_output', [batchDim, dim], ioType);
  }
  return g;
}

export async function writeVit(path: string, options: VitOptions): Promise<string> {
  const shape = resolveShape(options.shape);
  const name = typeof options.shape === 'string' ? options.shape : `custom-${shape.dim}x${shape.layers}`;
  return writeModel(path, buildVit(options), {
    producer: 'biomedica scripts/make-models.ts',
    docString:
      `ViT-${name} with DINOv2's ONNX input/output contract and SEEDED RANDOM WEIGHTS (seed ${options.seed}): ` +
      'for contract tests and speed measurement; its features mean nothing.',
    metadata: {
      'biomedica.model': 'vit-random',
      'biomedica.shape': name,
      'biomedica.registers': String(options.registers),
      'biomedica.dtype': options.dtype,
      'biomedica.seed': String(options.seed),
    },
  });
}
