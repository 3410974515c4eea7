import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import { jobsFromFlags, parentLockFromEnv } from '../jobs.js';
import {
  addCommonFlags,
  addExtractFlags,
  addJobsFlag,
  runStageJobs,
  checkMode,
  configFromFlags,
  createStageContext,
  filterFromConfig,
  logWorker,
  printSummary,
  workerFromFlags,
  type ExtractFlags,
} from '../shared.js';

export function extractCommand(deps: ProgramDeps): Command {
  const cmd = new Command('extract').description(
    'read articles from a PMC source into article and figure manifests with clean images',
  );
  addJobsFlag(addExtractFlags(addCommonFlags(cmd))).action(async (flags: ExtractFlags, self: Command) => {
    const config = configFromFlags(self);
    const filter = filterFromConfig(config);
    const jobs = jobsFromFlags(flags);
    if (jobs) return runStageJobs('extract', self, flags, jobs, deps.signal);
    const assignment = workerFromFlags(flags);
    const ctx = createStageContext(flags, deps.signal);
    const worker = logWorker(ctx.log, assignment);
    const { extractStage } = await import('../../stages/extract/from-config.js');
    const { runStages } = await import('../../pipeline/stages.js');
    const mode = { sync: flags.sync, planOnly: flags.planOnly, worker, check: checkMode(flags) };
    const result = await runStages([extractStage(config, flags.out, filter, mode)], { outDir: flags.out, worker, command: 'extract', parentLock: parentLockFromEnv() }, ctx);
    printSummary(flags, result.summaries['extract'], result.text);
  });
  return cmd;
}
