import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import { jobsFromFlags, parentLockFromEnv } from '../jobs.js';
import {
  addCheckFlag,
  addCommonFlags,
  addJobsFlag,
  runStageJobs,
  addLoadFlags,
  configFromFlags,
  createStageContext,
  loadOptions,
  logWorker,
  printSummary,
  workerFromFlags,
  type LoadFlags,
} from '../shared.js';

export function loadCommand(deps: ProgramDeps): Command {
  const cmd = new Command('load').description(
    'write WebDataset shards per license group, a Parquet index, an article table and a dataset card',
  );
  // --worker is the load command's own: under `run` it belongs to extract (see commands/run.ts).
  addJobsFlag(addCheckFlag(addLoadFlags(addCommonFlags(cmd.option('--out <dir>', 'run folder holding extract/ (and transform/)', 'out')))))
    .option(
      '--worker <i/n>',
      'be worker i of n (0-based): write shards i, i+n, i+2n… of the plan; all workers share --out and --dataset (default: from a Kubernetes Indexed Job, Slurm or AWS Batch array, see scripts/cluster/)',
    )
    .action(async (flags: LoadFlags & { worker?: string; jobs?: string }, self: Command) => {
      const config = configFromFlags(self);
      const options = await loadOptions(config, flags);
      const jobs = jobsFromFlags(flags);
      if (jobs) return runStageJobs('load', self, flags, jobs, deps.signal);
      const assignment = workerFromFlags(flags);
      const ctx = createStageContext(flags, deps.signal);
      const worker = logWorker(ctx.log, assignment);
      const { loadStage } = await import('../../stages/load/run-load.js');
      const { runStages } = await import('../../pipeline/stages.js');
      const result = await runStages([loadStage({ ...options, worker })], { outDir: flags.out, worker, command: 'load', parentLock: parentLockFromEnv() }, ctx);
      printSummary(flags, result.summaries['load'], result.text);
    });
  return cmd;
}
