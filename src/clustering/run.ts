/**
 * `biomedica transform fit` and `biomedica transform assign` on plain .npy files: what the command
 * layer calls. Options are parsed once here (zod) and the summaries are what `--json` prints.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import type { StageContext } from '../pipeline/context.js';
import { KMEANS_DEFAULTS } from './kmeans.js';
import { MODEL_FILES, assignFile, fitClusterModel, loadModel, saveModel, type EmbeddingProvenance } from './model.js';
import { withNpy } from './npy.js';
import { EMBEDDING_DTYPES, sampleEmbeddings } from './sample.js';

const int = (min: number) => z.coerce.number().int().min(min);
const sha = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');

const Provenance = {
  embeddingSha256: sha.optional(),
  recipe: z.string().min(1).optional(),
  threads: int(1).optional(),
};

export const FitOptions = z.object({
  embeddings: z.array(z.string().min(1)).min(1),
  components: int(1).default(25),
  clusters: int(1).default(2000),
  seed: int(0).default(0),
  sample: int(1).default(1_000_000),
  maxIter: int(1).default(KMEANS_DEFAULTS.maxIterations),
  tol: z.coerce.number().nonnegative().default(KMEANS_DEFAULTS.tolerance),
  seedingSample: int(1).default(KMEANS_DEFAULTS.seedingSample),
  modelOut: z.string().min(1),
  ...Provenance,
});
export type FitOptions = z.infer<typeof FitOptions>;

export const AssignOptions = z.object({
  model: z.string().min(1),
  embeddings: z.string().min(1),
  idsOut: z.string().min(1),
  ...Provenance,
});
export type AssignOptions = z.infer<typeof AssignOptions>;

/** Parse raw flags; a bad value is a usage error naming the flag. */
export function parseFlags<T extends z.ZodTypeAny>(schema: T, flags: unknown): z.infer<T> {
  const parsed = schema.safeParse(flags);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = String(issue.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new UsageError('FLAG_INVALID', `--${flag}: ${issue.message}`, { hint: 'see biomedica transform --help' });
  }
  return parsed.data;
}

function provenance(o: { embeddingSha256?: string; recipe?: string }): EmbeddingProvenance {
  return { modelSha256: o.embeddingSha256 ?? null, recipe: o.recipe ?? null };
}

export interface FitSummary {
  modelDir: string;
  files: number;
  totalRows: number;
  sampleSize: number;
  dim: number;
  components: number;
  clusters: number;
  iterations: number;
  converged: boolean;
  inertia: number;
  /** Share of the total variance the kept components explain. */
  explainedVarianceRatio: number;
  seconds: number;
}

export async function runFit(options: FitOptions, ctx: Pick<StageContext, 'log' | 'signal'>): Promise<FitSummary> {
  const started = performance.now();
  const sample = await sampleEmbeddings(options.embeddings, options.sample, options.seed);
  if (options.components > Math.min(sample.dim, sample.rows)) {
    throw new UsageError('FLAG_INVALID', `--components ${options.components}: at most ${Math.min(sample.dim, sample.rows)} for ${sample.rows} sampled rows of ${sample.dim} values`, {
      hint: `lower --components to at most ${Math.min(sample.dim, sample.rows)}`,
    });
  }
  if (options.clusters > sample.rows) {
    throw new UsageError('FLAG_INVALID', `--clusters ${options.clusters}: more clusters than the ${sample.rows} sampled rows`, { hint: 'lower --clusters or raise --sample' });
  }
  ctx.log.info({ files: sample.files.length, totalRows: sample.totalRows, sampleSize: sample.rows, dim: sample.dim }, 'fit sample chosen');
  const model = await fitClusterModel(
    sample,
    {
      components: options.components,
      clusters: options.clusters,
      seed: options.seed,
      maxIterations: options.maxIter,
      tolerance: options.tol,
      seedingSample: options.seedingSample,
      embedding: provenance(options),
      threads: options.threads,
    },
    ctx,
  );
  await saveModel(model, options.modelOut);
  const explained = model.meta.pca.explainedVariance.reduce((a, b) => a + b, 0);
  return {
    modelDir: options.modelOut,
    files: sample.files.length,
    totalRows: sample.totalRows,
    sampleSize: sample.rows,
    dim: sample.dim,
    components: model.meta.components,
    clusters: model.meta.clusters,
    iterations: model.meta.kmeans.iterations,
    converged: model.meta.kmeans.converged,
    inertia: model.meta.kmeans.inertia,
    explainedVarianceRatio: model.meta.pca.totalVariance > 0 ? explained / model.meta.pca.totalVariance : 0,
    seconds: (performance.now() - started) / 1000,
  };
}

export function formatFitSummary(s: FitSummary): string {
  return [
    `model written to ${s.modelDir}`,
    `  sample: ${s.sampleSize} of ${s.totalRows} rows from ${s.files} file(s), ${s.dim} values each`,
    `  PCA: ${s.components} components, ${(s.explainedVarianceRatio * 100).toFixed(1)}% of the variance`,
    `  k-means: ${s.clusters} clusters, ${s.iterations} iterations (${s.converged ? 'converged' : 'not converged: raise --max-iter'}), inertia ${s.inertia.toPrecision(6)}`,
    `  ${s.seconds.toFixed(1)} s`,
  ].join('\n');
}

export interface AssignSummary {
  idsOut: string;
  rows: number;
  clusters: number;
  /** Clusters that received at least one row. */
  clustersUsed: number;
  seconds: number;
}

/** A refit command for the hint of a refused model: the old model's settings on these embeddings. */
async function refitHint(options: AssignOptions): Promise<string> {
  let old: { components?: unknown; clusters?: unknown; seed?: unknown } = {};
  try {
    old = JSON.parse(await readFile(join(options.model, MODEL_FILES.meta), 'utf8')) ?? {};
  } catch {
    // Unreadable or absent: the hint falls back to fit's defaults.
  }
  const flag = (name: string, v: unknown) => (typeof v === 'number' ? ` --${name} ${v}` : '');
  const extra = (options.embeddingSha256 ? ` --embedding-sha256 ${options.embeddingSha256}` : '') + (options.recipe ? ` --recipe ${options.recipe}` : '');
  const out = `${options.model.replace(/\/+$/, '')}-refit`;
  return (
    `fit a model on these embeddings: biomedica transform fit --embeddings ${options.embeddings}` +
    `${flag('components', old.components)}${flag('clusters', old.clusters)}${flag('seed', old.seed)}${extra} --model-out ${out}` +
    `, then assign with --model ${out}`
  );
}

export async function runAssign(options: AssignOptions, ctx: Pick<StageContext, 'log' | 'signal'>): Promise<AssignSummary> {
  const started = performance.now();
  const hint = await refitHint(options);
  const dim = await withNpy(options.embeddings, { ndim: 2, dtypes: EMBEDDING_DTYPES }, async (r) => r.cols);
  // Provenance is checked when the caller states it; embeddings from elsewhere carry none.
  const expectEmbedding = options.embeddingSha256 !== undefined || options.recipe !== undefined ? provenance(options) : undefined;
  const model = await loadModel(options.model, { dim, embedding: expectEmbedding, refitHint: hint });
  const result = await assignFile(model, options.embeddings, options.idsOut, { threads: options.threads, signal: ctx.signal, refitHint: hint });
  const summary: AssignSummary = {
    idsOut: options.idsOut,
    rows: result.rows,
    clusters: model.meta.clusters,
    clustersUsed: result.counts.reduce((n, c) => n + (c > 0 ? 1 : 0), 0),
    seconds: (performance.now() - started) / 1000,
  };
  ctx.log.info({ ...summary }, 'assigned');
  return summary;
}

export function formatAssignSummary(s: AssignSummary): string {
  return `${s.rows} rows assigned to ${s.clustersUsed} of ${s.clusters} clusters → ${s.idsOut} (${s.seconds.toFixed(1)} s)`;
}
