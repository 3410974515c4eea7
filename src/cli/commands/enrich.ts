import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import { parentLockFromEnv } from '../jobs.js';
import { addCommonFlags, configFromFlags, createStageContext, printSummary, type CommonFlags } from '../shared.js';

interface EnrichFlags extends CommonFlags {
  out: string;
}

export function enrichCommand(deps: ProgramDeps): Command {
  const cmd = new Command('enrich')
    .description('add PubMed MeSH terms (and abstracts, reference PMIDs the XML lacks) from E-utilities to an extract')
    .option('--out <dir>', 'run folder holding extract/', 'out');
  addCommonFlags(cmd).action(async (flags: EnrichFlags, self: Command) => {
    const config = configFromFlags(self);
    const ctx = createStageContext(flags, deps.signal);
    const { enrichStage, enrichOptionsFromConfig } = await import('../../enrich/pubmed.js');
    const { runStages } = await import('../../pipeline/stages.js');
    const result = await runStages([enrichStage(enrichOptionsFromConfig(config, flags.out))], { outDir: flags.out, command: 'enrich', parentLock: parentLockFromEnv() }, ctx);
    printSummary(flags, result.summaries['enrich'], result.text);
  });
  return cmd;
}
