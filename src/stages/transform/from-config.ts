/** Wires a validated Config (plus the transform flags) to the transform stage's options. */
import type { Config } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import { lockDirOf } from '../../pipeline/lock.js';
import type { WorkerShare } from '../../pipeline/runner.js';
import { stage, type PipelineStage } from '../../pipeline/stages.js';
import { TransformOptions, formatTransformSummary, runTransform, type TransformOptions as Options, type TransformSummary } from './run-transform.js';

/** Transform as a stage of `biomedica run` (between extract/enrich and load) or on its own. */
export function transformStage(config: Config, outDir: string, mode: TransformMode = {}): PipelineStage {
  const options = transformOptionsFromConfig(config, outDir, mode);
  return stage<TransformSummary>({
    name: 'transform',
    run: (ctx) => runTransform(options, ctx),
    format: formatTransformSummary,
    complete: (s) => s.complete,
  });
}

export interface TransformMode {
  modelFrom?: string | undefined;
  refit?: boolean | undefined;
  check?: Options['check'] | undefined;
  worker?: WorkerShare | undefined;
}

export function transformOptionsFromConfig(config: Config, outDir: string, mode: TransformMode = {}): Options {
  const t = config.transform;
  if (!t.model) {
    throw new UsageError('MODEL_MISSING', 'transform needs an ONNX embedding model and none is configured', {
      hint: 'pass --model FILE (a DINOv2 ONNX export; README "Embedding models") or set transform.model in a --config file; for a try-out, npm run models makes one',
    });
  }
  return TransformOptions.parse({
    outDir,
    model: t.model,
    recipe: t.recipe,
    device: t.device,
    batchSize: t.batchSize,
    ...(t.threads > 0 ? { threads: t.threads } : {}),
    components: t.components,
    clusters: t.clusters,
    seed: t.seed,
    sampleSize: t.sampleSize,
    maxIterations: t.maxIterations,
    maxFailureRate: t.maxFailureRate,
    modelFrom: mode.modelFrom,
    refit: mode.refit ?? false,
    check: mode.check ?? 'fast',
    worker: mode.worker,
    lockDir: lockDirOf(outDir),
  });
}
