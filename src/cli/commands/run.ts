import { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import type { PipelineStage } from '../../pipeline/stages.js';
import type { StageContext } from '../../pipeline/context.js';
import type { WorkerShare } from '../../pipeline/runner.js';
import type { ProgramDeps } from '../program.js';
import { commandNamed, jobsFromFlags, parentLockFromEnv, runJobs, stagePhase, type JobPhase } from '../jobs.js';
import {
  addCommonFlags,
  addExtractFlags,
  addJobsFlag,
  jobsBar,
  addLoadFlags,
  checkMode,
  configFromFlags,
  createStageContext,
  filterFromConfig,
  loadOptions,
  logWorker,
  printSummary,
  workerFromFlags,
  type ExtractFlags,
  type LoadFlags,
} from '../shared.js';
import { addTransformFlags, type TransformFlags } from './transform.js';

export type RunFlags = ExtractFlags & LoadFlags & TransformFlags & { enrich?: boolean };

export function runCommand(deps: ProgramDeps): Command {
  const cmd = new Command('run')
    .description(
      'every stage in order: extract → (enrich) → transform (when an embedding model is given) → load. With --jobs N: N worker processes per stage, each stage once the one before is complete (enrich in one process)',
    )
    .option('--enrich', 'add PubMed MeSH terms between extract and load (needs E-utilities; set NCBI_API_KEY, NCBI_EMAIL)');
  addJobsFlag(addRunFlags(cmd)).action(async (flags: RunFlags, self: Command) => {
    const config = configFromFlags(self);
    // Checked before extract starts: a bad load flag must not wait for a long extract to surface.
    const loadOpts = await loadOptions(config, flags);
    const jobs = jobsFromFlags(flags);
    if (jobs) {
      // Stage by stage: N workers of each, the next stage once the one before is complete; enrich
      // has no split and runs in one process.
      const ctx = createStageContext(flags, deps.signal);
      const phases: JobPhase[] = [await stagePhase('extract', commandNamed(self, 'extract'))];
      if (flags.enrich) phases.push(await stagePhase('enrich', commandNamed(self, 'enrich')));
      if (config.transform.model) phases.push(await stagePhase('transform', commandNamed(self, 'transform')));
      else ctx.log.warn({ hint: 'pass --model FILE (README "Embedding models") to cluster and label the images' }, 'no embedding model configured: transform is skipped');
      phases.push(await stagePhase('load', commandNamed(self, 'load')));
      const result = await runJobs({ jobs, outDir: flags.out, command: 'run', from: self, phases, bar: jobsBar(flags) }, ctx);
      printSummary(flags, result.summaries, result.text);
      return;
    }
    const ctx = createStageContext(flags, deps.signal);
    const worker = logWorker(ctx.log, workerFromFlags(flags));
    const stages = await runStageList(config, flags, ctx, worker, { enrich: flags.enrich === true, transform: true, load: loadOpts });
    const { runStages } = await import('../../pipeline/stages.js');
    const result = await runStages(stages, { outDir: flags.out, worker, command: 'run', parentLock: parentLockFromEnv() }, ctx);
    printSummary(flags, result.summaries, result.text);
  });
  return cmd;
}

/** The flags of `run`, shared with `retry-failed` (which must rebuild the same stages). */
export function addRunFlags(cmd: Command): Command {
  addTransformFlags(cmd);
  return addLoadFlags(addExtractFlags(addCommonFlags(cmd)));
}

/**
 * The stages of a run, read top to bottom. A stage that is not complete here (a worker left units
 * to others) ends the list; the worker that completes it goes on, alone.
 */
export async function runStageList(
  config: Config,
  flags: RunFlags,
  ctx: StageContext,
  worker: WorkerShare | undefined,
  include: { enrich: boolean; transform: boolean; load: Awaited<ReturnType<typeof loadOptions>> | undefined; retry?: boolean },
): Promise<PipelineStage[]> {
  const { extractStage } = await import('../../stages/extract/from-config.js');
  const stages = [
    extractStage(config, flags.out, filterFromConfig(config), { sync: flags.sync, planOnly: flags.planOnly, worker, check: checkMode(flags), retry: include.retry }),
  ];
  if (include.enrich) {
    const { enrichStage, enrichOptionsFromConfig } = await import('../../enrich/pubmed.js');
    stages.push(enrichStage(enrichOptionsFromConfig(config, flags.out)));
  }
  // Transform runs when a model is configured (--model or transform.model); without one the
  // dataset is written unclustered (image_cluster_id -1), and the log says so.
  if (include.transform && config.transform.model) {
    const { transformStage } = await import('../../stages/transform/from-config.js');
    // As for load: the one worker that finishes extract goes on alone (split the embedding over
    // machines with `transform --worker i/n`).
    stages.push(transformStage(config, flags.out, { modelFrom: flags.modelFrom, refit: flags.refit, check: checkMode(flags) }));
  } else if (include.transform) {
    ctx.log.warn({ hint: 'pass --model FILE (README "Embedding models") to cluster and label the images' }, 'no embedding model configured: transform is skipped');
  }
  if (include.load) {
    const { loadStage } = await import('../../stages/load/run-load.js');
    stages.push(loadStage(include.load));
  }
  return stages;
}
