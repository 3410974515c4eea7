import { Command } from 'commander';
import type { ProgramDeps } from '../program.js';
import { addCommonFlags, configFromFlags, createStageContext, parseOptions, printSummary, type CommonFlags } from '../shared.js';

interface QueryFlags extends CommonFlags {
  where: string;
  output?: string;
  subset?: string;
  shardMaxBytes?: string;
  shardMaxSamples?: string;
}

export function queryCommand(deps: ProgramDeps): Command {
  const cmd = new Command('query')
    .description('filter a dataset through its Parquet index: write the matching keys, rows, or a new shard set')
    .argument('<dataset>', 'dataset folder written by load')
    .requiredOption('--where <sql>', "SQL predicate over the index, e.g. \"image_panel_type = 'Microscopy'\"")
    .option('--output <file>', 'matching keys (.txt) or index rows (.parquet, .csv, .jsonl, .json)')
    .option('--subset <dir>', 'write the matching samples as a new dataset')
    .option('--shard-max-bytes <n>', 'shard size of the subset')
    .option('--shard-max-samples <n>', 'samples per shard of the subset');
  addCommonFlags(cmd).action(async (dataset: string, flags: QueryFlags, self: Command) => {
    configFromFlags(self);
    const { runQuery, QueryOptions } = await import('../../stages/load/query.js');
    const options = parseOptions(
      QueryOptions,
      {
        datasetDir: dataset,
        where: flags.where,
        output: flags.output,
        subsetDir: flags.subset,
        shardMaxBytes: flags.shardMaxBytes,
        shardMaxSamples: flags.shardMaxSamples,
      },
      { datasetDir: '<dataset>', subsetDir: '--subset' },
    );
    const ctx = createStageContext(flags, deps.signal);
    const result = await runQuery(options, ctx);
    const groups = Object.entries(result.byGroup).map(([g, n]) => `${g}=${n}`).join(' ');
    printSummary(
      flags,
      result,
      [`query: ${result.matched} samples match (${groups})`, result.output && `  keys/rows  ${result.output}`, result.subsetDir && `  subset     ${result.subsetDir} (${result.subsetShards} shards)`]
        .filter(Boolean)
        .join('\n'),
    );
  });
  return cmd;
}
