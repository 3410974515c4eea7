import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import { addCommonFlags, addLoadFlags, configFromFlags, createStageContext, loadOptions, parseWorker, printSummary, type LoadFlags } from '../shared.js';

export function loadCommand(deps: ProgramDeps): Command {
  const cmd = new Command('load').description(
    'write WebDataset shards per license group, a Parquet index, an article table and a dataset card',
  );
  // --worker is the load command's own: under `run` it belongs to extract (see commands/run.ts).
  addLoadFlags(addCommonFlags(cmd.option('--out <dir>', 'run folder holding extract/ (and transform/)', 'out')))
    .option('--worker <i/n>', 'be worker i of n (0-based): write shards i, i+n, i+2n… of the plan; all workers share --out and --dataset')
    .action(async (flags: LoadFlags & { worker?: string }, self: Command) => {
      const config = configFromFlags(self);
      const options = await loadOptions(config, flags);
      const worker = parseWorker(flags.worker);
      const ctx = createStageContext(flags, deps.signal);
      const { runLoad, formatLoadSummary } = await import('../../stages/load/run-load.js');
      const summary = await runLoad({ ...options, worker }, ctx);
      printSummary(flags, summary, formatLoadSummary(summary));
    });
  return cmd;
}
