import { Command } from 'commander';
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

export function runCommand(deps: ProgramDeps): Command {
  const cmd = new Command('run')
    .description(
      'every stage in order: extract → (enrich) → transform (when an embedding model is given) → load. With --jobs N: N worker processes per stage, each stage once the one before is complete (enrich in one process)',
    )
    .option('--enrich', 'add PubMed MeSH terms between extract and load (needs E-utilities; set NCBI_API_KEY, NCBI_EMAIL)');
  addTransformFlags(cmd);
  addJobsFlag(addLoadFlags(addExtractFlags(addCommonFlags(cmd)))).action(async (flags: ExtractFlags & LoadFlags & TransformFlags & { enrich?: boolean }, self: Command) => {
    const config = configFromFlags(self);
    const filter = filterFromConfig(config);
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
    const assignment = workerFromFlags(flags);
    const ctx = createStageContext(flags, deps.signal);
    const worker = logWorker(ctx.log, assignment);
    const { extractStage } = await import('../../stages/extract/from-config.js');
    const { loadStage } = await import('../../stages/load/run-load.js');
    const { runStages } = await import('../../pipeline/stages.js');
    // Read top to bottom. A stage that is not complete here (a worker left units to others) ends
    // the list; the worker that completes it goes on, alone.
    const stages = [extractStage(config, flags.out, filter, { sync: flags.sync, planOnly: flags.planOnly, worker, check: checkMode(flags) })];
    if (flags.enrich) {
      const { enrichStage, enrichOptionsFromConfig } = await import('../../enrich/pubmed.js');
      stages.push(enrichStage(enrichOptionsFromConfig(config, flags.out)));
    }
    // Transform runs when a model is configured (--model or transform.model); without one the
    // dataset is written unclustered (image_cluster_id -1), and the log says so.
    if (config.transform.model) {
      const { transformStage } = await import('../../stages/transform/from-config.js');
      // As for load: the one worker that finishes extract goes on alone (split the embedding over
      // machines with `transform --worker i/n`).
      stages.push(transformStage(config, flags.out, { modelFrom: flags.modelFrom, refit: flags.refit, check: checkMode(flags) }));
    } else {
      ctx.log.warn({ hint: 'pass --model FILE (README "Embedding models") to cluster and label the images' }, 'no embedding model configured: transform is skipped');
    }
    stages.push(loadStage(loadOpts));
    const result = await runStages(stages, { outDir: flags.out, worker, command: 'run', parentLock: parentLockFromEnv() }, ctx);
    printSummary(flags, result.summaries, result.text);
  });
  return cmd;
}
