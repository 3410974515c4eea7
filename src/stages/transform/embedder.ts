/**
 * The stage's view of an embedding session (src/embedding/embedder.ts): the same pipeline the
 * `biomedica embed` command uses, checked against the model hash the unit keys were made with.
 */
import { basename } from 'node:path';
import { ManifestError } from '../../errors.js';
import type { StageContext } from '../../pipeline/context.js';
import { openEmbedder } from '../../embedding/embedder.js';
import type { Embedder } from './steps.js';

export interface StageEmbedderOptions {
  model: string;
  modelSha256: string;
  recipe: 'biomedica' | 'dinov2';
  device: 'auto' | 'cuda' | 'webgpu' | 'cpu';
  batchSize: number;
  threads?: number | undefined;
}

export async function openStageEmbedder(o: StageEmbedderOptions, ctx: Pick<StageContext, 'log' | 'signal'>): Promise<Embedder> {
  const session = await openEmbedder(
    { model: o.model, device: o.device, recipe: o.recipe, batchSize: o.batchSize, ...(o.threads ? { threads: o.threads } : {}) },
    ctx,
  );
  const info = session.info;
  if (info.modelSha256 !== o.modelSha256) {
    await session.close();
    throw new ManifestError('MODEL_CHANGED', `${o.model} changed while the run was starting`, {
      hint: 'rerun the same command once the model file is in place',
    });
  }
  return {
    info: {
      modelSha256: info.modelSha256,
      modelFile: basename(o.model),
      inputName: info.inputName,
      outputName: info.outputName,
      inputType: info.inputType,
      dim: info.dim,
      recipe: info.recipe,
      provider: info.provider,
    },
    embed: (items) => session.embed(items),
    close: () => session.close(),
  };
}
