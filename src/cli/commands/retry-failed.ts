import { Command } from 'commander';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { ProgramDeps } from '../program.js';
import { configFromFlags, createStageContext, loadOptions, printSummary } from '../shared.js';
import { addRunFlags, runStageList, type RunFlags } from './run.js';

export function retryFailedCommand(deps: ProgramDeps): Command {
  const cmd = new Command('retry-failed')
    .description(
      'fetch again the articles whose failures were transient (network, 5xx, throttling, timeouts, cut transfers), then redo the stages after extract that --out holds; content failures (malformed XML, a too-small image, a 404) stay as they are. Pass the flags of the run that made the folder.',
    )
    .argument('[out]', 'the output folder (the same as --out)')
    .option('--enrich', 'also redo PubMed enrichment (on by itself when the folder has it)');
  addRunFlags(cmd).action(async (out: string | undefined, flags: RunFlags, self: Command) => {
    if (out !== undefined) {
      if (self.getOptionValueSource('out') === 'cli' && flags.out !== out) {
        throw new UsageError('FLAG_INVALID', `two output folders: ${out} and --out ${flags.out}`, { hint: 'give the folder once' });
      }
      flags.out = out;
    }
    for (const [flag, given] of [['--worker', flags.worker], ['--plan-only', flags.planOnly], ['--sync', flags.sync]] as const) {
      if (given !== undefined && given !== false) {
        throw new UsageError('FLAG_INVALID', `retry-failed takes no ${flag}: it re-attempts a finished folder's transient failures in one process`, {
          hint: `drop ${flag}`,
        });
      }
    }
    const config = configFromFlags(self);
    const ctx = createStageContext(flags, deps.signal);
    const { formatRetrySelection, plannedUnits, selectRetry } = await import('../../stages/extract/retry.js');
    // A look before taking the lock, to say there is nothing to do; the extract stage selects again under it.
    const selection = await selectRetry(flags.out, await plannedUnits(flags.out));
    if (selection.units.length === 0 && selection.resuming.length === 0) {
      printSummary(flags, { retry: selection }, `${formatRetrySelection(selection)}\nnothing to retry: no transient failure in ${flags.out}`);
      return;
    }
    const present = await downstreamOf(flags);
    if (present.transform && !config.transform.model) {
      throw new UsageError('FLAG_INVALID', `${flags.out} has transform outputs: the retried images must be embedded with the same model`, {
        hint: 'add the --model (and --recipe/--clusters/…) of the run that made the folder, or its --config',
      });
    }
    const stages = await runStageList(config, flags, ctx, undefined, {
      enrich: flags.enrich === true || present.enrich,
      transform: present.transform,
      load: present.load ? await loadOptions(config, flags) : undefined,
      retry: true,
    });
    const { runStages } = await import('../../pipeline/stages.js');
    const result = await runStages(stages, { outDir: flags.out, command: 'retry-failed' }, ctx);
    printSummary(flags, { retry: selection, ...result.summaries }, `${formatRetrySelection(selection)}\n\n${result.text}`);
  });
  return cmd;
}

/** The stages after extract that the folder already has: the retry redoes those, no more. */
async function downstreamOf(flags: RunFlags): Promise<{ enrich: boolean; transform: boolean; load: boolean }> {
  const { pathExists } = await import('../../storage/files.js');
  const { pubmedPaths } = await import('../../enrich/records.js');
  const { transformPaths } = await import('../../manifest/transform-records.js');
  const { loadPaths } = await import('../../manifest/load-manifest.js');
  const dataset = flags.dataset ?? join(flags.out, 'dataset');
  return {
    enrich: (await pathExists(pubmedPaths(flags.out).manifest)) || (await pathExists(join(flags.out, 'cache', 'pubmed'))),
    transform: await pathExists(transformPaths(flags.out).root),
    load: await pathExists(loadPaths(dataset).manifest),
  };
}
