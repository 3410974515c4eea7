import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import { addCommonFlags, addLoadFlags, createStageContext, loadOptionsFromFlags, printSummary, type LoadFlags } from '../shared.js';

export function loadCommand(deps: ProgramDeps): Command {
  const cmd = new Command('load').description(
    'write WebDataset shards per license group, a Parquet index, an article table and a dataset card',
  );
  addLoadFlags(addCommonFlags(cmd.option('--out <dir>', 'run folder holding extract/ (and transform/)', 'out'))).action(
    async (flags: LoadFlags) => {
      const ctx = createStageContext(flags, deps.signal);
      const { runLoad, formatLoadSummary } = await import('../../stages/load/run-load.js');
      const summary = await runLoad(await loadOptionsFromFlags(flags), ctx);
      printSummary(flags, summary, formatLoadSummary(summary));
    },
  );
  return cmd;
}
