import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import {
  addCommonFlags,
  addExtractFlags,
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
  addExtractFlags(addCommonFlags(cmd)).action(async (flags: ExtractFlags, self: Command) => {
    const config = configFromFlags(self);
    const filter = filterFromConfig(config);
    const assignment = workerFromFlags(flags);
    const ctx = createStageContext(flags, deps.signal);
    const worker = logWorker(ctx.log, assignment);
    const { extractFromConfig, formatExtractSummary } = await import('../../stages/extract/from-config.js');
    const summary = await extractFromConfig(config, flags.out, filter, ctx, { sync: flags.sync, planOnly: flags.planOnly, worker });
    printSummary(flags, summary, formatExtractSummary(summary));
  });
  return cmd;
}
