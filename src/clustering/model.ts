/**
 * The fitted clustering model: PCA then nearest centroid, frozen so that every later assignment
 * (tonight's new units, another machine's) gives the cluster ids the experts labelled.
 *
 *   DIR/pca_mean.npy         float32 (D,)
 *   DIR/pca_components.npy   float32 (C, D), one principal axis per row
 *   DIR/centroids.npy        float32 (K, C), in PCA space
 *   DIR/model.json           ClusterModelMeta: written last; lists the sha256 of the three arrays
 *
 * API for the transform stage:
 *   const sample = await sampleEmbeddings(files, sampleSize, seed);        // sample.ts
 *   const model = await fitClusterModel(sample, { components, clusters, seed, embedding }, ctx);
 *   await saveModel(model, dir);
 *   const model = await loadModel(dir, { dim, embedding, refitHint });      // refuses a mismatch
 *   const assigner = await createAssigner(model);  await assigner.assign(rows, n) → Int32Array
 *   await assignFile(model, 'embed/u.npy', 'assign/u.npy')                 // streams a whole file
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InterruptedError, ManifestError } from '../errors.js';
import { sha256, sha256File, writeJsonAtomic } from '../storage/files.js';
import { NearestKernel, rowsPerBlock, type KernelOptions } from './kernels.js';
import { KMEANS_DEFAULTS, fitKMeans, type FitLog } from './kmeans.js';
import { NpyReader, NpyWriter, decodeNpyFloat32, writeNpy } from './npy.js';
import { fitPca, projectSource } from './pca.js';
import { EMBEDDING_DTYPES, type RowSource } from './sample.js';

export const CLUSTER_MODEL_SCHEMA = 'biomedica.cluster-model';
export const CLUSTER_MODEL_VERSION = 1;
export const MODEL_FILES = { mean: 'pca_mean.npy', components: 'pca_components.npy', centroids: 'centroids.npy', meta: 'model.json' } as const;

/** What produced the embeddings; null where unknown (embeddings brought from elsewhere). */
export const EmbeddingProvenance = z.object({
  /** sha256 of the ONNX model file that computed the embeddings. */
  modelSha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  /** Preprocessing recipe name (biomedica, dinov2). */
  recipe: z.string().min(1).nullable(),
});
export type EmbeddingProvenance = z.infer<typeof EmbeddingProvenance>;

export const ClusterModelMeta = z.object({
  schema: z.literal(CLUSTER_MODEL_SCHEMA),
  version: z.literal(CLUSTER_MODEL_VERSION),
  /** Embedding size D. */
  dim: z.number().int().positive(),
  components: z.number().int().positive(),
  clusters: z.number().int().positive(),
  seed: z.number().int(),
  /** Rows the model was fitted on, and rows available to sample from. */
  sampleSize: z.number().int().positive(),
  totalRows: z.number().int().positive(),
  embedding: EmbeddingProvenance,
  pca: z.object({
    engine: z.enum(['ml-pca', 'onnxruntime']),
    explainedVariance: z.array(z.number()),
    totalVariance: z.number(),
  }),
  kmeans: z.object({
    engine: z.enum(['ml-kmeans', 'onnxruntime']),
    iterations: z.number().int(),
    maxIterations: z.number().int(),
    tolerance: z.number(),
    converged: z.boolean(),
    seedingRows: z.number().int(),
    /** Σ squared distance of the sample's rows to their centroid, in PCA space. */
    inertia: z.number(),
  }),
  /** sha256 of each array file: a model folder with a file swapped or damaged is refused. */
  files: z.object({ [MODEL_FILES.mean]: z.string(), [MODEL_FILES.components]: z.string(), [MODEL_FILES.centroids]: z.string() }),
});
export type ClusterModelMeta = z.infer<typeof ClusterModelMeta>;

export interface ClusterModel {
  meta: Omit<ClusterModelMeta, 'files'>;
  mean: Float32Array;
  /** components × dim. */
  components: Float32Array;
  /** clusters × components. */
  centroids: Float32Array;
}

export interface FitOptions extends KernelOptions {
  components: number;
  clusters: number;
  seed: number;
  maxIterations?: number;
  tolerance?: number;
  seedingSample?: number;
  embedding?: EmbeddingProvenance;
  /** Rows available to sample from (recorded; defaults to the sample's own size). */
  totalRows?: number;
  /** Force routes (tests compare them); by default the input size decides. */
  pcaEngine?: 'ml-pca' | 'onnxruntime';
  kmeansEngine?: 'ml-kmeans' | 'onnxruntime';
}

export interface FitContext {
  log?: FitLog;
  signal?: AbortSignal;
}

/**
 * PCA then k-means on a sample. The sample is walked twice (PCA statistics, projection) and held
 * in memory only once projected: rows × components float32 (1 M × 25 → 100 MB).
 */
export async function fitClusterModel(sample: RowSource & { totalRows?: number }, options: FitOptions, ctx: FitContext = {}): Promise<ClusterModel> {
  const started = performance.now();
  const pca = await fitPca(sample, options.components, { ...options, engine: options.pcaEngine });
  ctx.log?.info({ rows: sample.rows, dim: sample.dim, components: pca.count, engine: pca.engine, ms: Math.round(performance.now() - started) }, 'PCA fitted');
  const projected = await projectSource(sample, pca, options);
  const km = await fitKMeans(projected, pca.count, { ...options, engine: options.kmeansEngine, log: ctx.log, signal: ctx.signal });
  return {
    meta: {
      schema: CLUSTER_MODEL_SCHEMA,
      version: CLUSTER_MODEL_VERSION,
      dim: sample.dim,
      components: pca.count,
      clusters: options.clusters,
      seed: options.seed,
      sampleSize: sample.rows,
      totalRows: options.totalRows ?? sample.totalRows ?? sample.rows,
      embedding: options.embedding ?? { modelSha256: null, recipe: null },
      pca: { engine: pca.engine, explainedVariance: pca.explainedVariance, totalVariance: pca.totalVariance },
      kmeans: {
        engine: km.engine,
        iterations: km.iterations,
        maxIterations: options.maxIterations ?? KMEANS_DEFAULTS.maxIterations,
        tolerance: options.tolerance ?? KMEANS_DEFAULTS.tolerance,
        converged: km.converged,
        seedingRows: km.seedingRows,
        inertia: km.inertia,
      },
    },
    mean: pca.mean,
    components: pca.components,
    centroids: km.centroids,
  };
}

/**
 * Write the model into `dir`. model.json is removed first and written last, so a reader never
 * pairs an old model.json with new arrays (and a crash in between leaves "no model", not a wrong
 * one); each array is itself written by temp file and rename.
 */
export async function saveModel(model: ClusterModel, dir: string): Promise<void> {
  const { dim, components, clusters } = model.meta;
  await rm(join(dir, MODEL_FILES.meta), { force: true });
  await writeNpy(join(dir, MODEL_FILES.mean), model.mean, [dim]);
  await writeNpy(join(dir, MODEL_FILES.components), model.components, [components, dim]);
  await writeNpy(join(dir, MODEL_FILES.centroids), model.centroids, [clusters, components]);
  const files = {
    [MODEL_FILES.mean]: await sha256File(join(dir, MODEL_FILES.mean)),
    [MODEL_FILES.components]: await sha256File(join(dir, MODEL_FILES.components)),
    [MODEL_FILES.centroids]: await sha256File(join(dir, MODEL_FILES.centroids)),
  };
  await writeJsonAtomic(join(dir, MODEL_FILES.meta), { ...model.meta, files } satisfies ClusterModelMeta);
}

export interface ModelExpectation {
  /** Embedding size of the rows to assign. */
  dim?: number;
  /** Provenance of the embeddings to assign; compared field by field (null included). */
  embedding?: EmbeddingProvenance;
  /** A command that fits a model matching these embeddings: the hint of every refusal. */
  refitHint?: string;
}

const DEFAULT_REFIT_HINT = 'fit a model on these embeddings with biomedica transform fit (see biomedica transform fit --help)';

/** Read and check a model folder: schema, version, file hashes, shapes, and the caller's expectations. */
export async function loadModel(dir: string, expect: ModelExpectation = {}): Promise<ClusterModel> {
  const hint = expect.refitHint ?? DEFAULT_REFIT_HINT;
  const path = join(dir, MODEL_FILES.meta);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ManifestError('CLUSTER_MODEL_MISSING', `no clustering model at ${dir} (no ${MODEL_FILES.meta})`, { path, hint });
    }
    throw error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError('CLUSTER_MODEL_INVALID', `${path} is not JSON`, { path, cause, hint });
  }
  const head = raw as { schema?: unknown; version?: unknown };
  if (head?.schema !== CLUSTER_MODEL_SCHEMA || head.version !== CLUSTER_MODEL_VERSION) {
    throw new ManifestError('CLUSTER_MODEL_VERSION', `expected ${CLUSTER_MODEL_SCHEMA} v${CLUSTER_MODEL_VERSION}, got ${String(head?.schema)} v${String(head?.version)}`, { path, hint });
  }
  const parsed = ClusterModelMeta.safeParse(raw);
  if (!parsed.success) {
    throw new ManifestError('CLUSTER_MODEL_INVALID', `${path} does not match the model schema: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`, { path, hint });
  }
  const { files, ...meta } = parsed.data;

  if (expect.dim !== undefined && expect.dim !== meta.dim) {
    throw new ManifestError('CLUSTER_MODEL_MISMATCH', `the model at ${dir} was fitted on ${meta.dim}-value embeddings; these have ${expect.dim}`, { path, hint });
  }
  if (expect.embedding) {
    for (const field of ['modelSha256', 'recipe'] as const) {
      if (expect.embedding[field] !== meta.embedding[field]) {
        throw new ManifestError(
          'CLUSTER_MODEL_MISMATCH',
          `the model at ${dir} was fitted on embeddings with ${field} ${String(meta.embedding[field])}; these have ${String(expect.embedding[field])}`,
          { path, hint },
        );
      }
    }
  }

  const arrays: Record<string, Float32Array> = {};
  const shapes = { [MODEL_FILES.mean]: [meta.dim], [MODEL_FILES.components]: [meta.components, meta.dim], [MODEL_FILES.centroids]: [meta.clusters, meta.components] };
  for (const [name, shape] of Object.entries(shapes)) {
    const file = join(dir, name);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new ManifestError('CLUSTER_MODEL_DAMAGED', `${file} is missing`, { path: file, hint });
    }
    // The hash covers the bytes read here, so the check and the use cannot see different files.
    if (sha256(bytes) !== files[name as keyof typeof files]) {
      throw new ManifestError('CLUSTER_MODEL_DAMAGED', `${file} does not match the sha256 in ${MODEL_FILES.meta}`, { path: file, hint });
    }
    const { data, shape: got } = decodeNpyFloat32(bytes, file, shape.length as 1 | 2);
    if (got.join() !== shape.join() || !data.every(Number.isFinite)) {
      throw new ManifestError('CLUSTER_MODEL_DAMAGED', `${file} has shape (${got.join(', ')}) or non-finite values where (${shape.join(', ')}) is expected`, { path: file, hint });
    }
    arrays[name] = data;
  }
  return { meta, mean: arrays[MODEL_FILES.mean]!, components: arrays[MODEL_FILES.components]!, centroids: arrays[MODEL_FILES.centroids]! };
}

/** A frozen model on onnxruntime: raw embeddings in, cluster ids out. Release it when done. */
export interface Assigner {
  readonly dim: number;
  readonly clusters: number;
  assign(rows: Float32Array, count: number): Promise<Int32Array>;
  release(): Promise<void>;
}

export async function createAssigner(model: ClusterModel, options: KernelOptions = {}): Promise<Assigner> {
  const kernel = await NearestKernel.frozen({ mean: model.mean, components: model.components, count: model.meta.components }, model.centroids, options);
  const dim = model.meta.dim;
  return {
    dim,
    clusters: model.meta.clusters,
    async assign(rows, count) {
      if (rows.length !== count * dim) throw new RangeError(`assign: ${rows.length} values for ${count} rows of ${dim}`);
      const out = new Int32Array(count);
      const step = rowsPerBlock(dim + model.meta.clusters);
      for (let start = 0; start < count; start += step) {
        const n = Math.min(step, count - start);
        out.set(await kernel.run(rows.subarray(start * dim, (start + n) * dim), n), start);
      }
      return out;
    },
    release: () => kernel.release(),
  };
}

/** One-shot convenience for a batch of rows in memory. */
export async function assignRows(model: ClusterModel, rows: Float32Array, count: number, options: KernelOptions = {}): Promise<Int32Array> {
  const assigner = await createAssigner(model, options);
  try {
    return await assigner.assign(rows, count);
  } finally {
    await assigner.release();
  }
}

export interface AssignFileResult {
  rows: number;
  /** Rows per cluster id. */
  counts: Int32Array;
}

/**
 * Stream an N×D embedding file through the model into an int32 (N,) ids file, written atomically.
 * Memory: two input blocks and the kernel's distance block, whatever N is.
 */
export async function assignFile(
  model: ClusterModel | Assigner,
  inPath: string,
  outPath: string,
  options: KernelOptions & { signal?: AbortSignal; refitHint?: string; blockRows?: number } = {},
): Promise<AssignFileResult> {
  const owned = 'meta' in model;
  const assigner = owned ? await createAssigner(model, options) : model;
  let reader: NpyReader | undefined;
  let writer: NpyWriter | undefined;
  try {
    reader = await NpyReader.open(inPath, { ndim: 2, dtypes: EMBEDDING_DTYPES });
    if (reader.cols !== assigner.dim) {
      throw new ManifestError('CLUSTER_MODEL_MISMATCH', `${inPath} has ${reader.cols}-value rows; the model takes ${assigner.dim}`, {
        path: inPath,
        hint: options.refitHint ?? DEFAULT_REFIT_HINT,
      });
    }
    writer = await NpyWriter.create(outPath, 'int32');
    const counts = new Int32Array(assigner.clusters);
    for await (const block of reader.blocks(options.blockRows ?? rowsPerBlock(reader.cols))) {
      if (options.signal?.aborted) throw new InterruptedError('INTERRUPTED', `stopped while assigning ${inPath}`, { hint: 'rerun the same command' });
      const ids = await assigner.assign(block.data, block.rows);
      for (const id of ids) counts[id]!++;
      await writer.append(ids);
    }
    await writer.finish();
    writer = undefined;
    return { rows: reader.rows, counts };
  } finally {
    await writer?.abort();
    await reader?.close();
    if (owned) await assigner.release();
  }
}
