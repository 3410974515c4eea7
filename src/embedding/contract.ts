/**
 * What a DINOv2 ONNX export must look like, read from the session rather than assumed
 * (../shared/SOURCES.md §6): one image input `[batch, 3, H, W]` of float32 or float16, and
 * `last_hidden_state` `[batch, 1 + registers + patches, dim]` whose token 0 is the CLS embedding
 * (registers, when the model has them, follow it).
 *
 * `pooler_output`: in transformers' Dinov2Model and Dinov2WithRegistersModel it is
 * `last_hidden_state[:, 0]` (after the final LayerNorm), i.e. the same CLS vector, and reading it
 * moves dim floats per image out of the session instead of (1 + registers + 256) × dim. Other
 * exports are free to put something else under that name (a projection, a mean of patch tokens),
 * so it is used only when a probe run at open shows it equal to token 0 of `last_hidden_state`;
 * otherwise token 0 is taken. A model without `last_hidden_state` (or a single rank-3 output) is
 * refused: nothing would say which vector is the CLS.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { UsageError } from '../errors.js';
import type { InputType } from './recipes.js';

type ValueMetadata = InferenceSession.ValueMetadata;
type TensorMetadata = Extract<ValueMetadata, { isTensor: true }>;

export interface ModelContract {
  inputName: string;
  inputType: InputType;
  /** The batch size the model fixes, when its first input dimension is a number. */
  fixedBatch: number | undefined;
  /** Output holding the tokens; its token 0 is the CLS. */
  tokensName: string;
  /** `pooler_output`, when the model has it: a candidate to check against token 0. */
  pooledName: string | undefined;
  outputType: InputType;
}

const MODEL_HINT = 'use a DINOv2 ONNX export (README "Embeddings"): input pixel_values [batch, 3, 224, 224], output last_hidden_state';

function contractError(message: string, details: Record<string, unknown> = {}): UsageError {
  return new UsageError('MODEL_CONTRACT', message, { hint: MODEL_HINT, ...details });
}

const isFloat = (m: ValueMetadata): m is TensorMetadata & { type: InputType } => m.isTensor && (m.type === 'float32' || m.type === 'float16');
const describe = (ms: readonly ValueMetadata[]): string => ms.map((m) => (m.isTensor ? `${m.name} ${m.type} [${m.shape.join(', ')}]` : `${m.name} (not a tensor)`)).join(', ');

export function resolveContract(inputs: readonly ValueMetadata[], outputs: readonly ValueMetadata[], imageSize: number): ModelContract {
  const images = inputs.filter((m) => isFloat(m) && m.shape.length === 4);
  const input = images.find((m) => m.name === 'pixel_values') ?? (images.length === 1 ? images[0] : undefined);
  if (input === undefined || !isFloat(input) || inputs.length !== 1) {
    throw contractError(`expected one float image input [batch, 3, H, W]; the model takes: ${describe(inputs)}`);
  }
  const [batch, channels, height, width] = input.shape;
  if (typeof channels === 'number' && channels !== 3) throw contractError(`input ${input.name} has ${channels} channels; RGB needs 3`);
  for (const side of [height, width]) {
    if (typeof side === 'number' && side !== imageSize) {
      throw contractError(`input ${input.name} is fixed at ${height}×${width}; the recipes produce ${imageSize}×${imageSize}`);
    }
  }

  const rank3 = outputs.filter((m) => isFloat(m) && m.shape.length === 3);
  const tokens = rank3.find((m) => m.name === 'last_hidden_state') ?? (rank3.length === 1 ? rank3[0] : undefined);
  if (tokens === undefined || !isFloat(tokens)) {
    throw contractError(`no last_hidden_state [batch, tokens, dim] among the outputs: ${describe(outputs)}`);
  }
  const pooled = outputs.find((m) => m.name === 'pooler_output' && isFloat(m) && m.shape.length === 2);
  return {
    inputName: input.name,
    inputType: input.type,
    fixedBatch: typeof batch === 'number' ? batch : undefined,
    tokensName: tokens.name,
    pooledName: pooled?.name,
    outputType: tokens.type,
  };
}

/** Row b of a [batch, tokens, dim] tensor's token 0, for every b: the CLS vectors, [batch, dim]. */
export function clsRows<T extends Float32Array | Uint16Array>(data: T, batch: number, tokens: number, dim: number): T {
  const out = new (data.constructor as new (n: number) => T)(batch * dim);
  for (let b = 0; b < batch; b++) out.set(data.subarray(b * tokens * dim, b * tokens * dim + dim), b * dim);
  return out;
}

/** The probe's verdict: pooler_output equals token 0 exactly (it is a Gather of the same tensor). */
export function sameVectors(a: Float32Array | Uint16Array, b: Float32Array | Uint16Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
