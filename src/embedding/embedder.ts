/**
 * The embedding pipeline: images in, one CLS embedding (or one recorded failure) out per image, in
 * input order.
 *
 *   items ─▶ read + decode + recipe (libuv pool, `decodeConcurrency` at once)
 *         ─▶ batch tensor (main thread: one table lookup per value)
 *         ─▶ inference worker (ONNX Runtime; up to `inflightBatches` queued)
 *         ─▶ results
 *
 * Decoding runs ahead of inference by at most `prefetchBatches` batches and the worker holds at
 * most `inflightBatches`, so memory is bounded whatever the number of items: about
 * batchSize × (prefetchBatches × 150 KB + (inflightBatches + 1) × 600 KB) for 224-px float32
 * input, ~70 MB at batch 64. A file that cannot be read or decoded, or whose embedding is not
 * finite, is a failure result with a stable code; it never stops the run and never becomes a
 * zero vector. Problems with the model or the device stop the run.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { machineDefaults } from '../config/cores.js';
import pLimit from 'p-limit';
import { z } from 'zod';
import { InterruptedError, ItemError, UsageError, toFailure, type FailureInfo } from '../errors.js';
import type { StageContext } from '../pipeline/context.js';
import { DEVICES, type Provider, type ProviderAttempt } from './devices.js';
import { DEFAULT_RECIPE, EMBED_IMAGE_LIMITS, RECIPE_NAMES, RECIPES, decodeForRecipe, pixelTable, writePixels, type InputType, type RecipeName } from './recipes.js';
import { openInference, type Inference } from './session.js';

export const EmbedderOptions = z.object({
  /** Path of the ONNX model file. */
  model: z.string().min(1),
  device: z.enum(DEVICES).default('auto'),
  recipe: z.enum(RECIPE_NAMES).default(DEFAULT_RECIPE),
  /** Images per session run. 32 keeps a CPU busy; GPUs want 64 or more. */
  batchSize: z.coerce.number().int().min(1).max(4096).default(32),
  /** CPU threads for ONNX Runtime (intra-op); default: every core this process may use. */
  threads: z.coerce.number().int().min(1).optional(),
  /** GPU index for CUDA. */
  deviceId: z.coerce.number().int().min(0).default(0),
  /** Images read and decoded at once; they run on libuv's pool (UV_THREADPOOL_SIZE, default 4). */
  decodeConcurrency: z.coerce.number().int().min(1).optional(),
  /** Batches decoded ahead of the one being assembled. */
  prefetchBatches: z.coerce.number().int().min(1).default(2),
  /** Batches handed to the worker and not yet back: 2 lets it start the next as one finishes. */
  inflightBatches: z.coerce.number().int().min(1).default(2),
});
export type EmbedderOptions = z.input<typeof EmbedderOptions>;

/** What the embeddings are: enough to refuse mixing them with others and to reproduce them. */
export interface EmbedderInfo {
  model: string;
  modelSha256: string;
  modelBytes: number;
  inputName: string;
  inputType: InputType;
  /** Where the vector is read: 'last_hidden_state[:, 0]' or 'pooler_output' (checked equal to it). */
  outputName: string;
  outputType: InputType;
  /** Tokens per image in last_hidden_state: 1 (CLS) + registers + patches. */
  tokens: number;
  dim: number;
  provider: Provider;
  /** Providers tried before `provider`, and why each failed (empty when the first one ran). */
  providerAttempts: ProviderAttempt[];
  recipe: RecipeName;
  imageSize: number;
  batchSize: number;
  threads: number;
}

/**
 * An image to embed: a file, bytes already in memory, or a function that reads them (a byte range
 * of a unit's image store). A `read` that throws ItemError fails the item; anything else the run.
 */
export type EmbedItem = { key: string; path: string } | { key: string; bytes: Buffer } | { key: string; read: () => Promise<Buffer> };
export type EmbedResult = { key: string; embedding: Float32Array } | { key: string; failure: FailureInfo };

export interface Embedder {
  info: EmbedderInfo;
  /** Results in input order; stops with InterruptedError when the context's signal is aborted. */
  embed(items: AsyncIterable<EmbedItem> | Iterable<EmbedItem>): AsyncGenerator<EmbedResult>;
  close(): Promise<void>;
}

const modelNotFound = (path: string) =>
  new UsageError('MODEL_NOT_FOUND', `no model file at ${path}`, { hint: 'pass --model PATH to a DINOv2 ONNX export (README "Embeddings")' });

/**
 * sha256 of the model file, and of its external-data file when the export keeps its weights beside
 * it under one of the names the exporters give it (`model.onnx_data`: optimum and the TorchScript
 * exporter; `model.onnx.data`: torch.onnx's dynamo exporter): the weights are part of what the
 * embeddings mean.
 */
async function modelHash(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for (const file of [path, `${path}_data`, `${path}.data`]) {
    let info: Stats;
    try {
      info = await stat(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && file !== path) continue;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw modelNotFound(path);
      throw error;
    }
    if (!info.isFile()) throw modelNotFound(path);
    bytes += info.size;
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  }
  return { sha256: hash.digest('hex'), bytes };
}

const READ_FAILURES = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES', 'EPERM', 'ELOOP', 'ENAMETOOLONG']);

/** Bytes of an item. A file that is not there or not readable is the item's failure; EIO and the like are the run's. */
async function readItem(item: EmbedItem): Promise<Buffer> {
  if ('bytes' in item) return item.bytes;
  if ('read' in item) {
    const bytes = await item.read();
    if (bytes.length > EMBED_IMAGE_LIMITS.maxInputBytes) {
      throw new ItemError('IMAGE_TOO_LARGE', `image is ${bytes.length} bytes, over the ${EMBED_IMAGE_LIMITS.maxInputBytes}-byte limit`, { bytes: bytes.length });
    }
    return bytes;
  }
  try {
    const { size } = await stat(item.path);
    if (size > EMBED_IMAGE_LIMITS.maxInputBytes) {
      throw new ItemError('IMAGE_TOO_LARGE', `image file is ${size} bytes, over the ${EMBED_IMAGE_LIMITS.maxInputBytes}-byte limit`, { bytes: size });
    }
    return await readFile(item.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code && READ_FAILURES.has(code)) throw new ItemError('IMAGE_UNREADABLE', `cannot read ${item.path} (${code})`, { path: item.path });
    throw error;
  }
}

type Prepared = { key: string; rgb: Buffer } | { key: string; failure: FailureInfo };

export async function openEmbedder(options: EmbedderOptions, ctx: Pick<StageContext, 'log' | 'signal'>): Promise<Embedder> {
  const parsed = EmbedderOptions.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError('FLAG_INVALID', `${issue.path.join('.')}: ${issue.message}`);
  }
  const o = parsed.data;
  const recipe = RECIPES[o.recipe];
  const threads = o.threads ?? machineDefaults().cores;
  const { sha256, bytes } = await modelHash(o.model);
  const inference: Inference = await openInference({ model: o.model, device: o.device, threads, deviceId: o.deviceId, recipe }, ctx.log);
  const { contract } = inference;
  const batchSize = contract.fixedBatch ?? o.batchSize;
  if (contract.fixedBatch !== undefined && contract.fixedBatch !== o.batchSize) {
    ctx.log.warn({ batchSize: contract.fixedBatch, asked: o.batchSize }, 'the model fixes its batch size; using it');
  }

  const info: EmbedderInfo = {
    model: o.model,
    modelSha256: sha256,
    modelBytes: bytes,
    inputName: contract.inputName,
    inputType: contract.inputType,
    outputName: inference.source === 'pooler_output' ? contract.pooledName! : `${contract.tokensName}[:, 0]`,
    outputType: contract.outputType,
    tokens: inference.tokens,
    dim: inference.dim,
    provider: inference.provider,
    providerAttempts: inference.attempts,
    recipe: recipe.name,
    imageSize: recipe.size,
    batchSize,
    threads,
  };
  const table = pixelTable(recipe, contract.inputType);
  const imageValues = 3 * recipe.size * recipe.size;
  const decodeLimit = pLimit(o.decodeConcurrency ?? (Number(process.env['UV_THREADPOOL_SIZE']) || 4));

  const prepare = (item: EmbedItem): Promise<Prepared> =>
    decodeLimit(async () => {
      try {
        return { key: item.key, rgb: await decodeForRecipe(await readItem(item), recipe) };
      } catch (error) {
        if (error instanceof ItemError) return { key: item.key, failure: toFailure(error) };
        throw error;
      }
    });

  /** Decoded items of one batch → one input tensor of the model's type, failures left out. */
  const assemble = (batch: Prepared[]) => {
    const good = batch.filter((p): p is Extract<Prepared, { rgb: Buffer }> => 'rgb' in p);
    const input = contract.inputType === 'float16' ? new Uint16Array(good.length * imageValues) : new Float32Array(good.length * imageValues);
    good.forEach((p, i) => writePixels(p.rgb, table, input, i * imageValues));
    return { input, count: good.length };
  };

  const results = (batch: Prepared[], vectors: Float32Array | undefined): EmbedResult[] => {
    let row = 0;
    return batch.map((p): EmbedResult => {
      if ('failure' in p) return p;
      const embedding = vectors!.subarray(row * info.dim, ++row * info.dim);
      for (const v of embedding) {
        if (!Number.isFinite(v)) return { key: p.key, failure: { code: 'EMBEDDING_NOT_FINITE', message: 'the model gave NaN or infinite values for this image' } };
      }
      return { key: p.key, embedding };
    });
  };

  async function* embed(items: AsyncIterable<EmbedItem> | Iterable<EmbedItem>): AsyncGenerator<EmbedResult> {
    const source = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<EmbedItem>)[Symbol.iterator]();
    const decoding: Promise<Prepared>[] = [];
    const inflight: { batch: Prepared[]; vectors: Promise<Float32Array> | undefined }[] = [];
    const ahead = batchSize * (o.prefetchBatches + 1);
    let exhausted = false;
    const fill = async () => {
      while (!exhausted && decoding.length < ahead) {
        const next = await source.next();
        if (next.done) exhausted = true;
        else {
          const prepared = prepare(next.value);
          // Observed now, awaited in its batch: a storage error must not surface as unhandled first.
          prepared.catch(() => {});
          decoding.push(prepared);
        }
      }
    };
    try {
      for (;;) {
        if (ctx.signal.aborted) throw new InterruptedError('INTERRUPTED', 'stopped while embedding', { hint: 'rerun the same command: unfinished work is redone' });
        await fill();
        if (decoding.length === 0) break;
        const batch = await Promise.all(decoding.splice(0, batchSize));
        // Keep the decoders busy while this batch is assembled and run.
        const filling = fill();
        const { input, count } = assemble(batch);
        const vectors = count > 0 ? inference.run(input, count) : undefined;
        // Settled later; a failure is rethrown when its batch's turn comes.
        vectors?.catch(() => {});
        inflight.push({ batch, vectors });
        await filling;
        if (inflight.length >= o.inflightBatches) {
          const done = inflight.shift()!;
          yield* results(done.batch, await done.vectors);
        }
      }
      while (inflight.length > 0) {
        const done = inflight.shift()!;
        yield* results(done.batch, await done.vectors);
      }
    } finally {
      // Settle what was started so nothing rejects unobserved after an early exit.
      await Promise.allSettled([...decoding, ...inflight.map((f) => f.vectors)]);
      await (source as AsyncIterator<EmbedItem> | Iterator<EmbedItem>).return?.();
    }
  }

  return { info, embed, close: () => inference.close() };
}
