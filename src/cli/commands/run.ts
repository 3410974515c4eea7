import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import {
  addCommonFlags,
  addExtractFlags,
  addLoadFlags,
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

export function runCommand(deps: ProgramDeps): Command {
  const cmd = new Command('run')
    .description('every stage in order: extract → (enrich) → load (transform slots in before load)')
    .option('--enrich', 'add PubMed MeSH terms between extract and load (needs E-utilities; set NCBI_API_KEY, NCBI_EMAIL)');
  addLoadFlags(addExtractFlags(addCommonFlags(cmd))).action(async (flags: ExtractFlags & LoadFlags & { enrich?: boolean }, self: Command) => {
    const config = configFromFlags(self);
    const filter = filterFromConfig(config);
    // Checked before extract starts: a bad load flag must not wait for a long extract to surface.
    const loadOpts = await loadOptions(config, flags);
    const assignment = workerFromFlags(flags);
    const ctx = createStageContext(flags, deps.signal);
    const worker = logWorker(ctx.log, assignment);
    const { extractFromConfig, formatExtractSummary } = await import('../../stages/extract/from-config.js');
    const { runLoad, formatLoadSummary } = await import('../../stages/load/run-load.js');
    const extract = await extractFromConfig(config, flags.out, filter, ctx, { sync: flags.sync, planOnly: flags.planOnly, worker });
    if (!extract.complete) {
      // Other workers still hold units: the last one to finish (or a plain rerun) goes on to load.
      printSummary(flags, { extract }, formatExtractSummary(extract));
      return;
    }
    let enriched = '';
    let enrich: unknown;
    if (flags.enrich) {
      const { runEnrich, enrichOptionsFromConfig, formatEnrichSummary } = await import('../../enrich/pubmed.js');
      const summary = await runEnrich(enrichOptionsFromConfig(config, flags.out), ctx);
      enrich = summary;
      enriched = `${formatEnrichSummary(summary)}\n\n`;
    }
    const load = await runLoad(loadOpts, ctx);
    printSummary(flags, { extract, enrich, load }, `${formatExtractSummary(extract)}\n\n${enriched}${formatLoadSummary(load)}`);
  });
  return cmd;
}
