import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import { addTransformFlags, transformOverrides, type TransformFlags } from './transform.js';
import {
  addCommonFlags,
  addExtractFlags,
  addLoadFlags,
  checkMode,
  configFromExtractFlags,
  createStageContext,
  filterFromConfig,
  loadOptionsFromFlags,
  parseWorker,
  printSummary,
  type ExtractFlags,
  type LoadFlags,
} from '../shared.js';

export function runCommand(deps: ProgramDeps): Command {
  const cmd = new Command('run')
    .description('every stage in order: extract → (enrich) → transform (when an embedding model is given) → load')
    .option('--enrich', 'add PubMed MeSH terms between extract and load (needs E-utilities; set NCBI_API_KEY, NCBI_EMAIL)');
  addTransformFlags(cmd);
  addLoadFlags(addExtractFlags(addCommonFlags(cmd))).action(async (flags: ExtractFlags & LoadFlags & TransformFlags & { enrich?: boolean }) => {
    const config = configFromExtractFlags(flags, transformOverrides(flags));
    const filter = filterFromConfig(config);
    const ctx = createStageContext(flags, deps.signal);
    const worker = parseWorker(flags.worker);
    const { extractStage } = await import('../../stages/extract/from-config.js');
    const { loadStage } = await import('../../stages/load/run-load.js');
    const { runStages } = await import('../../pipeline/stages.js');
    // Read top to bottom: transform slots in before load. A stage that is not complete here (a
    // worker left units to others) ends the list; the worker that completes it goes on.
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
    // --worker belongs to extract here: the one worker that finishes extract loads alone.
    stages.push(loadStage({ ...(await loadOptionsFromFlags(flags)), check: checkMode(flags) }));
    const result = await runStages(stages, { outDir: flags.out, worker, command: 'run' }, ctx);
    printSummary(flags, result.summaries, result.text);
  });
  return cmd;
}
