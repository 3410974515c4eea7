/**
 * The global step between embed and assign: the clustering model every image is assigned with.
 *
 * The model is frozen once it exists: nightly runs embed and assign only new units with it, so
 * cluster ids keep meaning what the experts labelled. It changes only when asked:
 *   --model-from DIR   adopt a model fitted elsewhere (another run, another machine), checked
 *                      against this run's embedding model and recipe, copied into transform/model
 *   --refit            fit anew on a sample of this run's embeddings (cluster ids change)
 * With neither and no model yet, the first run fits one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { MODEL_FILES, fitClusterModel, loadModel, saveModel, type ClusterModel } from '../../clustering/model.js';
import { sampleEmbeddings } from '../../clustering/sample.js';
import { transformPaths } from '../../manifest/transform-records.js';
import { sha256 } from '../../storage/files.js';
import type { EmbeddingInfo } from './steps.js';

export interface FitSettings {
  components: number;
  clusters: number;
  seed: number;
  sampleSize: number;
  maxIterations?: number | undefined;
  threads?: number | undefined;
  modelFrom?: string | undefined;
  refit: boolean;
}

export interface ModelInUse {
  model: ClusterModel;
  /** sha256 of model/model.json: what assign markers are keyed by. */
  sha256: string;
  /** How this run got it. */
  origin: 'frozen' | 'fitted' | 'adopted';
}

async function modelJsonSha256(dir: string): Promise<string> {
  return sha256(await readFile(join(dir, MODEL_FILES.meta)));
}

/** Does a model exist in the run folder? (Its validity is checked when it is loaded.) */
export async function hasModel(outDir: string): Promise<boolean> {
  try {
    await readFile(join(transformPaths(outDir).modelDir, MODEL_FILES.meta));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** The model of the run folder, or adopt --model-from; never fits. */
export async function frozenModel(outDir: string, embedding: Pick<EmbeddingInfo, 'modelSha256' | 'recipe' | 'dim'>, settings: FitSettings): Promise<ModelInUse | undefined> {
  const dir = transformPaths(outDir).modelDir;
  const expect = {
    dim: embedding.dim,
    embedding: { modelSha256: embedding.modelSha256, recipe: embedding.recipe },
    refitHint: `fit a model on this run's embeddings: biomedica transform --out ${outDir} --refit (cluster ids change: expert labels must be redone or transferred)`,
  };
  if (settings.modelFrom) {
    const adopted = await loadModel(settings.modelFrom, {
      ...expect,
      refitHint: `use a model fitted on embeddings of the same ONNX model and recipe, or drop --model-from to fit one here`,
    });
    const current = (await hasModel(outDir)) ? await modelJsonSha256(dir) : '';
    if (current !== (await modelJsonSha256(settings.modelFrom))) await saveModel(adopted, dir);
    return { model: adopted, sha256: await modelJsonSha256(dir), origin: 'adopted' };
  }
  if (settings.refit || !(await hasModel(outDir))) return undefined;
  const model = await loadModel(dir, expect);
  if (model.meta.clusters !== settings.clusters || model.meta.components !== settings.components) {
    throw new UsageError(
      'MODEL_FROZEN',
      `the run folder's model has ${model.meta.clusters} clusters and ${model.meta.components} components; this run asks for ${settings.clusters} and ${settings.components}`,
      {
        hint: `keep the frozen model (pass --clusters ${model.meta.clusters} --components ${model.meta.components}), or fit anew with --refit (cluster ids change: expert labels must be redone or transferred)`,
      },
    );
  }
  return { model, sha256: await modelJsonSha256(dir), origin: 'frozen' };
}

/** Fit on a seeded sample of the embeddings of `units` (in unit order) and save it in the run folder. */
export async function fitModel(
  outDir: string,
  units: readonly string[],
  embedding: Pick<EmbeddingInfo, 'modelSha256' | 'recipe'>,
  settings: FitSettings,
  ctx: { log: Logger; signal: AbortSignal },
): Promise<ModelInUse> {
  const paths = transformPaths(outDir);
  const sample = await sampleEmbeddings(units.map(paths.embeddings), settings.sampleSize, settings.seed);
  if (sample.rows < settings.clusters) {
    throw new UsageError('TOO_FEW_IMAGES', `${sample.rows} embedded images cannot make ${settings.clusters} clusters`, {
      hint: `ask for fewer clusters (--clusters ${Math.max(1, Math.floor(sample.rows / 10))}), or adopt a model fitted on a larger build with --model-from DIR`,
    });
  }
  ctx.log.info({ rows: sample.rows, totalRows: sample.totalRows, clusters: settings.clusters, components: settings.components }, 'fitting the clustering model');
  const model = await fitClusterModel(
    sample,
    {
      components: settings.components,
      clusters: settings.clusters,
      seed: settings.seed,
      ...(settings.maxIterations ? { maxIterations: settings.maxIterations } : {}),
      ...(settings.threads ? { threads: settings.threads } : {}),
      embedding: { modelSha256: embedding.modelSha256, recipe: embedding.recipe },
      totalRows: sample.totalRows,
    },
    ctx,
  );
  await saveModel(model, paths.modelDir);
  return { model, sha256: await modelJsonSha256(paths.modelDir), origin: 'fitted' };
}
